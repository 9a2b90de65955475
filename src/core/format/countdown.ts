/** Status-bar countdown text and colour level: `m:ss` under an hour, `h:mm:ss` above. */
export function formatRemaining(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const ss = String(s).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

export type ExpiryLevel = 'ok' | 'warning' | 'expired';

export function expiryLevel(remainingMs: number, warningSeconds: number): ExpiryLevel {
  if (remainingMs <= 0) return 'expired';
  return remainingMs < warningSeconds * 1000 ? 'warning' : 'ok';
}

/** `$(key) staging 14:59`: the public status-bar text contract. */
export function statusText(label: string, remainingMs: number): string {
  return `$(key) ${label} ${formatRemaining(remainingMs)}`;
}
