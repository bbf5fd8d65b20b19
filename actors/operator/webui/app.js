// The mesobus web UI: plain JavaScript over the master's Mesos-compatible endpoints.
// Pages are routes on the URL's #hash; each polls what it shows every REFRESH_MS.
"use strict";

const REFRESH_MS = 2000;
const PAGE_SIZE = 50;
const COMMAND_EXECUTOR = "mesobus-command";
const view = document.getElementById("view");
let timer = null;
let pageState = {};  // what a page keeps between refreshes (filter, sort, page, log offsets)

const esc = (v) => String(v ?? "").replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
const fmt = (n) => (Math.round(n * 100) / 100).toLocaleString();
const when = (s) => (s ? new Date(s * 1000).toLocaleString() : "");
const link = (hash, text) => `<a href="#${esc(hash)}">${esc(text)}</a>`;

async function getJSON(path) {
  const response = await fetch(path, {cache: "no-store"});
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

function duration(seconds) {
  const s = Math.floor(seconds), d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
  return (d ? `${d}d ` : "") + (h || d ? `${h}h ` : "") + `${m}m ${s % 60}s`;
}

function table(columns, rows, opts = {}) {
  // columns: [{key, label, num, render}]; rows: objects
  const sort = opts.sort || {};
  const head = columns.map((c) => `<th data-key="${c.key}" class="${c.num ? "num" : ""}">${esc(c.label)}${
    sort.key === c.key ? (sort.desc ? " ▾" : " ▴") : ""}</th>`).join("");
  const body = rows.map((r) => "<tr>" + columns.map((c) =>
    `<td class="${c.num ? "num" : ""}">${c.render ? c.render(r) : esc(r[c.key])}</td>`).join("") + "</tr>").join("");
  return `<table><thead><tr>${head}</tr></thead><tbody>${body || `<tr><td colspan="${columns.length}" class="muted">none</td></tr>`}</tbody></table>`;
}

function sortable(rows, sort) {
  if (!sort.key) return rows;
  const k = sort.key, sign = sort.desc ? -1 : 1;
  return rows.slice().sort((a, b) => (a[k] > b[k] ? sign : a[k] < b[k] ? -sign : 0));
}

function onSort(container, sortStateKey) {
  container.querySelectorAll("th[data-key]").forEach((th) => th.addEventListener("click", () => {
    const sort = pageState[sortStateKey] || {};
    pageState[sortStateKey] = {key: th.dataset.key, desc: sort.key === th.dataset.key ? !sort.desc : false};
    render();
  }));
}

function resources(r) {
  return `cpus ${fmt(r.cpus)} · mem ${fmt(r.mem)} MB · disk ${fmt(r.disk)} MB` + (r.gpus ? ` · gpus ${fmt(r.gpus)}` : "");
}

function sandboxPath(task) {
  const executor = task.executor_id || COMMAND_EXECUTOR;
  const base = `/agents/${task.slave_id}/frameworks/${task.framework_id}/executors/${executor}/runs/latest`;
  return executor === COMMAND_EXECUTOR ? `${base}/tasks/${task.id}` : base;
}

// --- pages ---------------------------------------------------------------------------

async function dashboard() {
  const [m, summary] = await Promise.all([getJSON("metrics/snapshot"), getJSON("master/state-summary")]);
  const kinds = ["cpus", "mem", "disk", "gpus"].map((k) => {
    const total = m[`master/${k}_total`] || 0, used = m[`master/${k}_used`] || 0;
    const pct = total ? Math.round(100 * used / total) : 0;
    return `<div class="card" id="res-${k}"><div class="muted">${k}</div><div class="big">${fmt(used)} / ${fmt(total)}</div>
      <div class="bar"><span style="width:${pct}%"></span></div><div class="muted">${pct}% used</div></div>`;
  }).join("");
  const states = Object.keys(m).filter((k) => k.startsWith("master/tasks_"))
    .map((k) => [k.slice("master/tasks_".length).toUpperCase(), m[k]]);
  return `<h1>Cluster</h1>
    <div class="cards">
      <div class="card"><div class="muted">leader</div><div class="big" id="dash-leader">${esc(summary.leader)}</div></div>
      <div class="card"><div class="muted">uptime</div><div class="big">${duration(m["master/uptime_secs"] || 0)}</div></div>
      <div class="card"><div class="muted">agents</div><div class="big" id="dash-agents">${fmt(m["master/slaves_active"])}</div>
        <div class="muted">${fmt(m["master/slaves_unreachable"] || 0)} unreachable</div></div>
      <div class="card"><div class="muted">frameworks</div><div class="big" id="dash-frameworks">${fmt(m["master/frameworks_active"])}</div></div>
      <div class="card"><div class="muted">offers</div><div class="big">${fmt(m["master/outstanding_offers"])}</div></div>
    </div>
    <h2>Resources (used / total)</h2><div class="cards">${kinds}</div>
    <h2>Tasks by state</h2>
    ${table([{key: 0, label: "state", render: (r) => `<span class="state-TASK_${r[0]}">TASK_${r[0]}</span>`}, {key: 1, label: "tasks", num: true}],
            states, {})}`;
}

async function agents() {
  const data = await getJSON("master/slaves");
  const rows = data.slaves.map((a) => ({...a, cpus: a.resources.cpus, used_cpus: a.used_resources.cpus,
    mem: a.resources.mem, used_mem: a.used_resources.mem}));
  return `<h1>Agents</h1>` + table([
    {key: "id", label: "id"}, {key: "hostname", label: "host"},
    {key: "active", label: "state", render: (a) => (a.active ? "active" : "unreachable")},
    {key: "used_cpus", label: "cpus used / total", num: true, render: (a) => `${fmt(a.used_cpus)} / ${fmt(a.cpus)}`},
    {key: "used_mem", label: "mem used / total", num: true, render: (a) => `${fmt(a.used_mem)} / ${fmt(a.mem)}`},
    {key: "ports", label: "ports", render: (a) => esc(a.resources.ports || "")},
    {key: "registered_time", label: "registered", render: (a) => when(a.registered_time)},
  ], sortable(rows, pageState.sort || {}), {sort: pageState.sort || {}});
}

async function frameworks() {
  const data = await getJSON("master/frameworks");
  const rows = data.frameworks.map((f) => ({...f, ntasks: f.tasks.length, cpus: f.used_resources.cpus, mem: f.used_resources.mem}));
  return `<h1>Frameworks</h1>` + table([
    {key: "id", label: "id", render: (f) => link(`/frameworks/${f.id}`, f.id)}, {key: "name", label: "name"},
    {key: "roles", label: "roles", render: (f) => esc(f.roles.join(", "))},
    {key: "active", label: "state", render: (f) => (f.active ? "active" : "inactive")},
    {key: "ntasks", label: "tasks", num: true}, {key: "cpus", label: "cpus", num: true, render: (f) => fmt(f.cpus)},
    {key: "mem", label: "mem", num: true, render: (f) => fmt(f.mem)},
    {key: "registered_time", label: "registered", render: (f) => when(f.registered_time)},
  ], sortable(rows, pageState.sort || {}), {sort: pageState.sort || {}}) +
  `<h2>Completed</h2>` + table([{key: "id", label: "id"}, {key: "name", label: "name"}], data.completed_frameworks);
}

async function framework(id) {
  const data = await getJSON(`master/frameworks?framework_id=${encodeURIComponent(id)}`);
  const f = data.frameworks[0];
  if (!f) return `<h1>Framework ${esc(id)}</h1><p class="muted">not registered (finished or torn down)</p>`;
  let noOffers = "";
  if (f.offers.length === 0) {
    // The allocator's latest run says why this framework got nothing (when it explains).
    let reasons = "";
    try {
      const why = await getJSON(`mesobus/allocation?framework_id=${encodeURIComponent(f.id)}`);
      reasons = Object.entries(why.reasons).map(([r, n]) => `${esc(r)} (${n})`).join(", ");
    } catch (err) { /* no explanation kept: say what is generally possible */ }
    noOffers = `<p class="muted" id="no-offers">No offers outstanding. ${reasons
      ? `The allocator's latest run skipped it: ${reasons}.`
      : "It may have suppressed offers, declined with a filter, or its roles are at their quota (see <code>mesobus log explain</code>)."}</p>`;
  }
  return `<h1>Framework ${esc(f.name)}</h1>
    <p>${esc(f.id)} · roles ${esc(f.roles.join(", "))} · user ${esc(f.user)} · ${f.active ? "active" : "inactive"}</p>
    <p>used: ${resources(f.used_resources)}<br>offered: ${resources(f.offered_resources)}</p>${noOffers}
    <h2>Tasks</h2>${taskTable(f.tasks)}
    <h2>Offers</h2>${offerTable(f.offers.map((o) => ({...o, framework: f.name})))}
    <h2>Completed tasks</h2>${taskTable(f.completed_tasks)}`;
}

function taskTable(tasks) {
  return table([
    {key: "id", label: "task", render: (t) => link(`/tasks/${t.framework_id}/${t.id}`, t.id)}, {key: "name", label: "name"},
    {key: "state", label: "state", render: (t) => `<span class="state-${esc(t.state)}">${esc(t.state)}</span>`},
    {key: "slave_id", label: "agent"}, {key: "cpus", label: "cpus", num: true, render: (t) => fmt(t.resources.cpus)},
    {key: "mem", label: "mem", num: true, render: (t) => fmt(t.resources.mem)},
  ], tasks);
}

function offerTable(offers) {
  return table([{key: "id", label: "offer"}, {key: "framework", label: "framework"}, {key: "hostname", label: "host"},
    {key: "role", label: "role", render: (o) => esc((o.allocation_info || {}).role)},
    {key: "cpus", label: "resources", render: (o) => resources(o.resources)}], offers);
}

async function tasks() {
  // One fetch of every task (the snapshot renders it once for all readers); filtering,
  // sorting and paging happen here, and only one page of rows is ever in the DOM.
  const data = await getJSON("master/tasks?limit=1000000&order=des");
  const filter = (pageState.filter || "").toLowerCase(), stateFilter = pageState.state || "";
  let rows = data.tasks.map((t) => ({...t, cpus: t.resources.cpus, mem: t.resources.mem,
    updated: t.statuses.length ? t.statuses[t.statuses.length - 1].timestamp : 0}));
  const states = [...new Set(rows.map((t) => t.state))].sort();
  if (filter) rows = rows.filter((t) => t.id.toLowerCase().includes(filter) || t.name.toLowerCase().includes(filter) ||
                                         t.framework_id.toLowerCase().includes(filter) || t.slave_id.toLowerCase().includes(filter));
  if (stateFilter) rows = rows.filter((t) => t.state === stateFilter);
  rows = sortable(rows, pageState.sort || {});
  const pages = Math.max(1, Math.ceil(rows.length / PAGE_SIZE));
  const page = Math.min(pageState.page || 0, pages - 1);
  const shown = rows.slice(page * PAGE_SIZE, (page + 1) * PAGE_SIZE);
  return `<h1>Tasks</h1>
    <div class="toolbar">
      <input id="filter" placeholder="filter by id, name, framework, agent" value="${esc(pageState.filter || "")}" size="40">
      <select id="state-filter"><option value="">every state</option>${states.map((s) =>
        `<option ${s === stateFilter ? "selected" : ""}>${esc(s)}</option>`).join("")}</select>
      <button id="prev" ${page === 0 ? "disabled" : ""}>‹</button>
      <span id="page-info">page ${page + 1} of ${pages} · ${rows.length.toLocaleString()} tasks</span>
      <button id="next" ${page >= pages - 1 ? "disabled" : ""}>›</button>
    </div>` + table([
    {key: "id", label: "task", render: (t) => link(`/tasks/${t.framework_id}/${t.id}`, t.id)}, {key: "name", label: "name"},
    {key: "state", label: "state", render: (t) => `<span class="state-${esc(t.state)}">${esc(t.state)}</span>`},
    {key: "framework_id", label: "framework"}, {key: "slave_id", label: "agent"},
    {key: "cpus", label: "cpus", num: true, render: (t) => fmt(t.cpus)}, {key: "mem", label: "mem", num: true, render: (t) => fmt(t.mem)},
    {key: "updated", label: "updated", render: (t) => when(t.updated)},
  ], shown, {sort: pageState.sort || {}});
}

function wireTasksPage() {
  const filter = document.getElementById("filter");
  if (!filter) return;
  filter.addEventListener("input", () => { pageState.filter = filter.value; pageState.page = 0; render(true); });
  document.getElementById("state-filter").addEventListener("change", (e) => { pageState.state = e.target.value; pageState.page = 0; render(); });
  document.getElementById("prev").addEventListener("click", () => { pageState.page = Math.max(0, (pageState.page || 0) - 1); render(); });
  document.getElementById("next").addEventListener("click", () => { pageState.page = (pageState.page || 0) + 1; render(); });
}

async function task(frameworkId, taskId) {
  const data = await getJSON(`master/tasks?framework_id=${encodeURIComponent(frameworkId)}&task_id=${encodeURIComponent(taskId)}`);
  const t = data.tasks[0];
  if (!t) return `<h1>Task ${esc(taskId)}</h1><p class="muted">unknown (or forgotten)</p>`;
  const file = pageState.file || "stdout";
  pageState.path = `${sandboxPath(t)}/${file}`;
  return `<h1>Task ${esc(t.id)}</h1>
    <p>${esc(t.name)} · <span class="state-${esc(t.state)}" id="task-state">${esc(t.state)}</span> · framework
      ${link(`/frameworks/${t.framework_id}`, t.framework_id)} · agent ${esc(t.slave_id)} · role ${esc(t.role)}</p>
    <p>${resources(t.resources)}</p>
    <h2>Status history</h2>${table([{key: "state", label: "state"}, {key: "timestamp", label: "when", render: (s) => when(s.timestamp)},
      {key: "source", label: "source"}, {key: "reason", label: "reason"}, {key: "message", label: "message"}], t.statuses)}
    <h2>Sandbox</h2>
    <div class="toolbar"><select id="file">${["stdout", "stderr"].map((f) => `<option ${f === file ? "selected" : ""}>${f}</option>`).join("")}</select>
      <label><input type="checkbox" id="follow" ${pageState.follow === false ? "" : "checked"}> follow</label>
      <a href="files/download?path=${encodeURIComponent(pageState.path)}">download</a></div>
    <pre class="log" id="log"></pre>`;
}

async function followLog() {
  // Reads what was appended since the last look, a page at a time (never the whole file).
  const log = document.getElementById("log");
  if (!log || !pageState.path) return;
  try {
    if (pageState.logPath !== pageState.path) {
      const size = (await getJSON(`files/read?path=${encodeURIComponent(pageState.path)}`)).offset;
      pageState.logPath = pageState.path;
      pageState.logOffset = Math.max(0, size - 65536);  // start with the last 64 KiB
      pageState.logText = "";
    }
    for (let i = 0; i < 8; i++) {
      const page = await getJSON(`files/read?path=${encodeURIComponent(pageState.path)}&offset=${pageState.logOffset}&length=65536`);
      if (!page.data) break;
      pageState.logOffset = page.offset + new TextEncoder().encode(page.data).length;
      pageState.logText = (pageState.logText + page.data).slice(-200000);
    }
  } catch (err) {
    pageState.logText = `(${err.message})`;
  }
  log.textContent = pageState.logText;
  if (pageState.follow !== false) log.scrollTop = log.scrollHeight;
}

function wireTaskPage() {
  const file = document.getElementById("file");
  if (!file) return;
  file.addEventListener("change", () => { pageState.file = file.value; pageState.logPath = null; render(); });
  document.getElementById("follow").addEventListener("change", (e) => { pageState.follow = e.target.checked; });
  followLog();
}

async function offers() {
  const data = await getJSON("master/frameworks");
  const rows = data.frameworks.flatMap((f) => f.offers.map((o) => ({...o, framework: f.name})));
  return `<h1>Offers</h1>` + offerTable(rows);
}

async function roles() {
  const [data, quota] = await Promise.all([getJSON("master/roles"), getJSON("master/quota")]);
  const limits = Object.fromEntries((quota.configs || []).map((c) => [c.role,
    Object.entries(c.limits || {}).map(([k, v]) => `${k} ${fmt(v.value)}`).join(" · ")]));
  return `<h1>Roles</h1>` + table([
    {key: "name", label: "role"}, {key: "weight", label: "weight", num: true, render: (r) => fmt(r.weight)},
    {key: "quota", label: "quota limit", render: (r) => esc(limits[r.name] || "none")},
    {key: "frameworks", label: "frameworks", num: true, render: (r) => r.frameworks.length},
    {key: "allocated", label: "allocated", render: (r) => resources(r.allocated)},
    {key: "offered", label: "offered", render: (r) => resources(r.offered)},
  ], data.roles);
}

// --- routing -------------------------------------------------------------------------

function route() {
  const parts = (location.hash.replace(/^#\/?/, "") || "").split("/").filter(Boolean).map(decodeURIComponent);
  switch (parts[0]) {
    case "agents": return [agents, null];
    case "frameworks": return parts[1] ? [() => framework(parts[1]), null] : [frameworks, null];
    case "tasks": return parts[2] ? [() => task(parts[1], parts[2]), wireTaskPage] : [tasks, wireTasksPage];
    case "offers": return [offers, null];
    case "roles": return [roles, null];
    default: return [dashboard, null];
  }
}

async function render(keepFocus) {
  clearTimeout(timer);
  const [page, wire] = route();
  const focused = keepFocus && document.activeElement && document.activeElement.id;
  try {
    const html = await page();
    view.innerHTML = html;
    view.querySelectorAll("table").forEach((t) => onSort(t, "sort"));
    if (wire) wire();
    if (focused) { const el = document.getElementById(focused); el.focus(); el.setSelectionRange?.(el.value.length, el.value.length); }
  } catch (err) {
    view.innerHTML = `<p class="error">${esc(err.message)}</p>`;
  }
  timer = setTimeout(() => render(false), REFRESH_MS);
}

async function header() {
  try {
    const state = await getJSON("master/state-summary");
    document.getElementById("leader").textContent = `leader ${state.leader}`;
  } catch (err) { /* shown by the page */ }
}

window.addEventListener("hashchange", () => { pageState = {}; render(); });
header();
render();
