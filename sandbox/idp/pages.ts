import type { DemoUser } from './users';

/** Server-rendered pages of the sandbox IdP: no scripts, no external assets (offline). */

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

const CSS = `
*{box-sizing:border-box}
body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;background:#f3f4f6;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#111827}
main{width:340px;background:#fff;border-radius:10px;box-shadow:0 1px 3px rgba(0,0,0,.12),0 8px 24px rgba(0,0,0,.06);padding:28px 28px 20px}
h1{font-size:20px;margin:0 0 4px}
.sub{color:#6b7280;margin:0 0 18px;font-size:13px}
label{display:block;font-size:13px;font-weight:600;margin:12px 0 4px}
input[type=text],input[type=password]{width:100%;padding:9px 10px;border:1px solid #d1d5db;border-radius:6px;font:inherit}
input:focus{outline:2px solid #2563eb;outline-offset:-1px;border-color:#2563eb}
button{width:100%;margin-top:18px;padding:10px;border:0;border-radius:6px;background:#2563eb;color:#fff;font:inherit;font-weight:600;cursor:pointer}
button:hover{background:#1d4ed8}
button.link{background:none;color:#6b7280;font-weight:400;margin-top:6px}
.error{background:#fef2f2;color:#b91c1c;border:1px solid #fecaca;border-radius:6px;padding:8px 10px;margin:0 0 8px;font-size:13px}
.hint{margin-top:18px;padding-top:12px;border-top:1px solid #e5e7eb;font-size:12px;color:#6b7280}
.hint ul{margin:4px 0 0;padding-left:18px}
code{font-family:ui-monospace,Menlo,Consolas,monospace}
.code{font-size:24px;letter-spacing:2px;text-align:center;margin:12px 0}
`;

function layout(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)}</title><style>${CSS}</style></head>
<body><main>${body}</main></body></html>`;
}

function usersHint(users: readonly DemoUser[]): string {
  const items = users
    .map((u) => `<li><code>${escapeHtml(u.username)}</code> ${escapeHtml(u.name)}: ${u.groups.map(escapeHtml).join(', ')}</li>`)
    .join('');
  const password = users[0]?.password ?? '';
  return `<div class="hint">Demo users (password <code>${escapeHtml(password)}</code>):<ul>${items}</ul></div>`;
}

export function loginPage(opts: { action: string; clientName: string; users: readonly DemoUser[]; error?: string; username?: string }): string {
  const error = opts.error ? `<p class="error" role="alert">${escapeHtml(opts.error)}</p>` : '';
  return layout(
    'Sign in - ML Sandbox IdP',
    `<h1>Sign in</h1><p class="sub">to continue to ${escapeHtml(opts.clientName)}</p>${error}
<form method="post" action="${escapeHtml(opts.action)}" autocomplete="off">
<label for="username">Username</label><input id="username" name="username" type="text" value="${escapeHtml(opts.username ?? '')}" autofocus required>
<label for="password">Password</label><input id="password" name="password" type="password" required>
<button type="submit">Sign in</button>
</form>${usersHint(opts.users)}`,
  );
}

/**
 * RFC 8628 §3.3 user-code page. `form` is oidc-provider's form (CSRF token and the code
 * field); the button attaches to it with the HTML `form` attribute.
 */
export function deviceInputPage(form: string, error?: string): string {
  const message = error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : '<p class="sub">Enter the code shown in your editor.</p>';
  return layout(
    'Device sign-in - ML Sandbox IdP',
    `<h1>Device sign-in</h1>${message}${form}
<button type="submit" form="op.deviceInputForm">Continue</button>`,
  );
}

export function deviceConfirmPage(form: string, clientName: string, userCode: string): string {
  return layout(
    'Confirm device - ML Sandbox IdP',
    `<h1>Confirm device</h1><p class="sub">${escapeHtml(clientName)} asks to sign in. Check that your editor shows this code:</p>
<p class="code"><code>${escapeHtml(userCode)}</code></p>${form}
<button type="submit" form="op.deviceConfirmForm">Continue</button>
<button class="link" type="submit" form="op.deviceConfirmForm" name="abort" value="yes">Cancel</button>`,
  );
}

export function deviceSuccessPage(clientName: string): string {
  return layout('Signed in - ML Sandbox IdP', `<h1>Signed in</h1><p class="sub">${escapeHtml(clientName)} is now signed in. You can close this page.</p>`);
}

export function errorPage(error: string, description?: string): string {
  return layout(
    'Error - ML Sandbox IdP',
    `<h1>Sign-in error</h1><p class="error" role="alert"><code>${escapeHtml(error)}</code>${description ? `: ${escapeHtml(description)}` : ''}</p>`,
  );
}
