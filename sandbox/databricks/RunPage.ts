/**
 * The workspace emulator's run page: what "Open Run Page" shows for a run (job, state, tasks,
 * parameters, output, start and end time). Databricks links runs as
 * `{host}/jobs/{job_id}/runs/{run_id}?o={workspace id}` (one-time runs: `{host}/jobs/runs/{run_id}`);
 * the emulator answers those paths with this page. Everything from the run is HTML-escaped.
 */

export interface RunPageTask {
  taskKey: string;
  runId: number;
  notebookPath: string;
  lifeCycleState: string;
  resultState?: string;
}

export interface RunPageModel {
  /** The workspace's name (dev, staging, prod). */
  workspace: string;
  runId: number;
  jobId?: number;
  /** The job's name, or the run name of a one-time run. */
  runName: string;
  creator: string;
  lifeCycleState: string;
  resultState?: string;
  stateMessage: string;
  /** Epoch ms; endTime 0 while the run is active. */
  startTime: number;
  endTime: number;
  /** The time the page shows "so far" durations against. */
  now: number;
  parameters: { name: string; value: string }[];
  tasks: RunPageTask[];
  /** The notebook's exit value (successful runs). */
  output?: string;
  error?: string;
  errorTrace?: string;
}

/** The run page path of a run (or task run) as run_page_url names it, without the workspace id. */
export function runPagePath(runId: number, jobId?: number): string {
  return jobId !== undefined ? `/jobs/${jobId}/runs/${runId}` : `/jobs/runs/${runId}`;
}

/** Parses a run page path: `/jobs/{job_id}/runs/{run_id}` or `/jobs/runs/{run_id}`. */
export function parseRunPagePath(pathname: string): { jobId?: number; runId: number } | undefined {
  const m = /^\/jobs\/(?:(\d{1,15})\/)?runs\/(\d{1,15})\/?$/.exec(pathname);
  if (!m) return undefined;
  return { ...(m[1] !== undefined ? { jobId: Number(m[1]) } : {}), runId: Number(m[2]) };
}

export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

function formatTime(ms: number): string {
  return ms > 0 ? new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC') : '—';
}

function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h ? `${h}h ${m}m ${s % 60}s` : m ? `${m}m ${s % 60}s` : `${s}s`;
}

/** SUCCESS green, FAILED / INTERNAL_ERROR red, CANCELED grey, active blue. */
function stateClass(lifeCycleState: string, resultState?: string): string {
  if (resultState === 'SUCCESS') return 'ok';
  if (resultState === 'CANCELED') return 'off';
  if (resultState || lifeCycleState === 'INTERNAL_ERROR') return 'bad';
  return 'active';
}

function stateLabel(lifeCycleState: string, resultState?: string): string {
  return resultState ?? lifeCycleState;
}

const STYLE = `
body{font:14px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1b1f24;background:#f6f7f9}
header{background:#1b3139;color:#fff;padding:10px 24px;font-size:13px}
main{max-width:960px;margin:24px auto;padding:0 24px}
h1{font-size:22px;margin:0 0 4px}
.sub{color:#5c6670;margin:0 0 16px}
.badge{display:inline-block;padding:2px 10px;border-radius:10px;font-weight:600;font-size:12px;color:#fff;vertical-align:middle}
.ok{background:#1a7f37}.bad{background:#cf222e}.off{background:#6e7781}.active{background:#0969da}
section{background:#fff;border:1px solid #d8dee4;border-radius:6px;padding:12px 16px;margin:0 0 16px}
h2{font-size:15px;margin:0 0 8px}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:4px 12px 4px 0;vertical-align:top}
th{color:#5c6670;font-weight:500;width:160px}
thead th{width:auto;border-bottom:1px solid #d8dee4}
pre{background:#f6f8fa;border:1px solid #d8dee4;border-radius:6px;padding:8px 12px;white-space:pre-wrap;word-break:break-word;margin:0}
.err{border-color:#ffcecb;background:#fff6f5}
footer{color:#5c6670;font-size:12px;margin:24px 0}
`;

/** The whole HTML document of one run. While the run is active the page reloads itself every 2 s. */
export function renderRunPage(m: RunPageModel): string {
  const active = m.endTime === 0;
  const cls = stateClass(m.lifeCycleState, m.resultState);
  const label = stateLabel(m.lifeCycleState, m.resultState);
  const duration = (m.endTime || m.now) - m.startTime;
  const rows: [string, string][] = [
    ['Run ID', String(m.runId)],
    ...(m.jobId !== undefined ? ([['Job ID', String(m.jobId)]] as [string, string][]) : []),
    ['Started by', m.creator],
    ['Start time', formatTime(m.startTime)],
    ['End time', active ? 'still running' : formatTime(m.endTime)],
    ['Duration', `${formatDuration(duration)}${active ? ' so far' : ''}`],
    ['Lifecycle state', m.lifeCycleState],
    ...(m.resultState ? ([['Result state', m.resultState]] as [string, string][]) : []),
    ...(m.stateMessage ? ([['Message', m.stateMessage]] as [string, string][]) : []),
  ];
  const details = rows.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join('');
  const params = m.parameters.length
    ? `<section><h2>Parameters</h2><table>${m.parameters.map((p) => `<tr><th>${escapeHtml(p.name)}</th><td><code>${escapeHtml(p.value)}</code></td></tr>`).join('')}</table></section>`
    : '';
  const tasks = `<section><h2>Tasks</h2><table><thead><tr><th>Task</th><th>Notebook</th><th>State</th><th>Task run ID</th></tr></thead><tbody>${m.tasks
    .map(
      (t) =>
        `<tr><td>${escapeHtml(t.taskKey)}</td><td><code>${escapeHtml(t.notebookPath)}</code></td><td><span class="badge ${stateClass(t.lifeCycleState, t.resultState)}">${escapeHtml(
          stateLabel(t.lifeCycleState, t.resultState),
        )}</span></td><td>${escapeHtml(t.runId)}</td></tr>`,
    )
    .join('')}</tbody></table></section>`;
  let output: string;
  if (m.error !== undefined)
    output = `<pre class="err">${escapeHtml(m.error)}</pre>${m.errorTrace ? `<h2 style="margin-top:12px">Trace</h2><pre class="err">${escapeHtml(m.errorTrace)}</pre>` : ''}`;
  else if (m.output !== undefined) output = m.output ? `<pre>${escapeHtml(m.output)}</pre>` : '<p>The notebook returned no value.</p>';
  else output = `<p>${active ? 'The output appears when the run has finished.' : 'No output.'}</p>`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
${active ? '<meta http-equiv="refresh" content="2">\n' : ''}<title>${escapeHtml(`${m.runName} · run ${m.runId} · ${label}`)}</title>
<style>${STYLE}</style>
</head>
<body>
<header>Databricks workspace emulator · ${escapeHtml(m.workspace)}</header>
<main>
<h1>${escapeHtml(m.runName)} <span class="badge ${cls}" id="state">${escapeHtml(label)}</span></h1>
<p class="sub">${m.jobId !== undefined ? 'Job run' : 'One-time run'} ${escapeHtml(m.runId)}${active ? ' · this page refreshes while the run is active' : ''}</p>
<section><table>${details}</table></section>
${params}
${tasks}
<section><h2>Output</h2>${output}</section>
<footer>A local emulator of a Databricks workspace (ML Spanner sandbox). Nothing here ran on a real cluster.</footer>
</main>
</body>
</html>
`;
}
