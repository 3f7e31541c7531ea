/**
 * `GET /dashboard`: one self-contained HTML page (no build step, no CDN, no framework) that polls
 * `/dashboard/state` every second and renders the windows of every workspace and model, each virtual
 * key's windows, and the last decisions with their fallbacks. Everything is written with `textContent`
 * (names come from the configuration and the catalogue, but the page never trusts a string as HTML).
 * Each number cell carries its raw value in `data-value` (the text is formatted for reading).
 */
import type { ServerResponse } from 'node:http';

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>mistral-router gateway</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #1b1b1b; background: #fafafa; }
  h1 { font-size: 1.3rem; margin: 0 0 .25rem; } h2 { font-size: 1.05rem; margin: 1.5rem 0 .5rem; }
  table { border-collapse: collapse; width: 100%; background: #fff; }
  th, td { text-align: left; padding: .3rem .6rem; border-bottom: 1px solid #e4e4e4; white-space: nowrap; }
  td.n { text-align: right; font-variant-numeric: tabular-nums; }
  .bar { display: inline-block; width: 8rem; height: .6rem; background: #eee; vertical-align: middle; }
  .bar > span { display: block; height: 100%; background: #f28c28; }
  .learned { color: #0a6; } .configured { color: #555; } .unknown { color: #a00; }
  #status { color: #666; }
</style>
</head>
<body>
<h1>mistral-router gateway</h1>
<div id="status">loading…</div>
<h2>Workspaces and models</h2>
<table id="workspaces"><thead><tr><th>workspace</th><th>model</th><th>window</th><th>used</th><th>held</th><th>limit</th><th>remaining</th><th>use</th><th>limit from</th></tr></thead><tbody></tbody></table>
<h2>Virtual keys</h2>
<table id="keys"><thead><tr><th>key</th><th>calls answered</th><th>window</th><th>used</th><th>limit</th><th>remaining</th><th>use</th></tr></thead><tbody></tbody></table>
<h2>Recent decisions</h2>
<table id="decisions"><thead><tr><th>time</th><th>key</th><th>route</th><th>endpoint</th><th>model</th><th>workspace</th><th>attempts</th><th>fallbacks</th><th>waited ms</th><th>tokens</th></tr></thead><tbody></tbody></table>
<script>
"use strict";
const cell = (tr, text, value) => {
  const td = document.createElement('td');
  td.textContent = text;
  if (value !== undefined) { td.className = 'n'; td.dataset.value = value === null ? '' : String(value); }
  tr.appendChild(td);
  return td;
};
const num = (n) => n === null || n === undefined ? 'unknown' : Number(n).toLocaleString('en-US');
const val = (w, n) => w.unit === 'usd' && n !== null && n !== undefined ? '$' + Number(n).toLocaleString('en-US', { maximumFractionDigits: 6 }) : num(n);
const bar = (tr, used, limit) => {
  const td = cell(tr, '');
  const outer = document.createElement('span'); outer.className = 'bar';
  const inner = document.createElement('span');
  inner.style.width = limit ? Math.min(100, (100 * used) / limit) + '%' : '0';
  outer.appendChild(inner); td.appendChild(outer);
};
const body = (id) => { const tbody = document.querySelector('#' + id + ' tbody'); tbody.textContent = ''; return tbody; };
function render(state) {
  const ws = body('workspaces');
  for (const w of state.workspaces) {
    const tr = document.createElement('tr');
    tr.dataset.window = w.workspace + '|' + (w.model ?? '') + '|' + w.kind;
    cell(tr, w.workspace); cell(tr, w.model ?? '(workspace)'); cell(tr, w.kind);
    cell(tr, val(w, w.used), w.used).classList.add('used'); cell(tr, val(w, w.held), w.held);
    cell(tr, val(w, w.limit), w.limit); cell(tr, val(w, w.remaining), w.remaining).classList.add('remaining');
    bar(tr, w.used, w.limit); cell(tr, w.blockedUntil ? 'blocked (429)' : w.source).classList.add(w.source);
    ws.appendChild(tr);
  }
  const keys = body('keys');
  for (const k of state.keys) {
    const windows = k.windows.length > 0 ? k.windows : [null];
    windows.forEach((w, i) => {
      const tr = document.createElement('tr');
      tr.dataset.key = k.name;
      if (w) tr.dataset.window = w.kind;
      cell(tr, i === 0 ? k.name : '');
      if (i === 0) cell(tr, num(k.answered), k.answered).classList.add('answered'); else cell(tr, '');
      cell(tr, w ? w.kind : 'no limits'); cell(tr, w ? val(w, w.used) : '', w ? w.used : undefined);
      cell(tr, w ? val(w, w.limit) : '', w ? w.limit : undefined);
      const remaining = cell(tr, w ? val(w, w.remaining) : '', w ? w.remaining : undefined); remaining.classList.add('remaining');
      if (w) bar(tr, w.used, w.limit); else cell(tr, '');
      keys.appendChild(tr);
    });
  }
  const ds = body('decisions');
  for (const d of state.decisions) {
    const tr = document.createElement('tr');
    cell(tr, new Date(d.at).toISOString().slice(11, 23)); cell(tr, d.key); cell(tr, d.route); cell(tr, d.endpoint);
    cell(tr, d.model); cell(tr, d.workspace); cell(tr, String(d.attempts), d.attempts);
    cell(tr, d.fallbacks.join(', ') || '-'); cell(tr, num(d.waitedMs), d.waitedMs); cell(tr, num(d.tokens), d.tokens ?? null);
    ds.appendChild(tr);
  }
  const status = document.getElementById('status');
  status.textContent = 'calls answered: ' + state.answered + ' · updated ' + new Date(state.now).toISOString();
  status.dataset.answered = String(state.answered);
  status.dataset.now = String(state.now);
}
async function poll() {
  try {
    const response = await fetch('dashboard/state', { cache: 'no-store' });
    if (response.ok) render(await response.json());
    else document.getElementById('status').textContent = 'the gateway answered ' + response.status;
  } catch (error) {
    document.getElementById('status').textContent = 'the gateway does not answer (' + error.message + ')';
  }
  setTimeout(poll, 1000);
}
poll();
</script>
</body>
</html>
`;

const BYTES = Buffer.from(PAGE);

export function dashboardPage(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': BYTES.length, 'cache-control': 'no-store' });
  res.end(BYTES);
}
