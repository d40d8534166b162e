// The nightshift console: hash routes, data from /ui/api, kept live by one
// EventSource (/ui/events) per page. No framework, no build step.
"use strict";

const view = document.getElementById("view");
let source = null;
let jobsPage = 1;
let taskPage = 1;

function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
}
function table(head, rows) {
  return "<table><thead><tr>" + head.map(h => "<th>" + esc(h) + "</th>").join("") + "</tr></thead><tbody>" +
    (rows.length ? rows.map(r => "<tr>" + r.join("") + "</tr>").join("") : '<tr><td class="muted" colspan="' + head.length + '">none</td></tr>') +
    "</tbody></table>";
}
function td(v, cls) { return "<td" + (cls ? ' class="' + cls + '"' : "") + ">" + esc(v) + "</td>"; }
function stateTd(s) { return td(s, "state-" + s); }
function bar(done, total) {
  return '<td><progress max="' + esc(Math.max(total, 1)) + '" value="' + esc(Math.min(done, total)) + '"></progress> ' + esc(done + "/" + total) + "</td>";
}
function dur(s) {
  if (!(s > 0)) return "-";
  if (s < 90) return Math.round(s) + "s";
  if (s < 5400) return Math.round(s / 60) + "m";
  return (s / 3600).toFixed(1) + "h";
}
function ago(ms) { return dur((Date.now() - ms) / 1000) + " ago"; }
function button(label, path, question) {
  return '<button data-action="' + esc(path) + '" data-confirm="' + esc(question) + '">' + esc(label) + "</button>";
}

// Actions: a confirmation, then a POST the server checks like the gRPC call
// of the same name (the token's role, the leader).
document.addEventListener("click", async e => {
  const b = e.target.closest("button[data-action]");
  if (!b || !confirm(b.dataset.confirm)) return;
  const r = await fetch(b.dataset.action, {method: "POST", credentials: "same-origin", headers: {"X-Nightshift-Console": "1"}});
  const msg = document.getElementById("status");
  msg.textContent = r.ok ? "done: " + b.textContent : "refused (" + r.status + "): " + (await r.text()).trim();
});

async function get(path) {
  const r = await fetch(path, {credentials: "same-origin"});
  if (r.status === 401) { location.href = "/ui/login"; throw new Error("login"); }
  if (!r.ok) throw new Error(path + ": " + r.status);
  return r.json();
}

function listen(query, handlers) {
  if (source) source.close();
  source = new EventSource("/ui/events" + query);
  for (const [name, fn] of Object.entries(handlers)) {
    source.addEventListener(name, e => fn(JSON.parse(e.data)));
  }
  source.onopen = () => { document.getElementById("status").textContent = "live"; };
  source.onerror = () => { document.getElementById("status").textContent = "reconnecting…"; };
}

function header(o) {
  const w = document.getElementById("insecure");
  w.hidden = !o.insecure;
  w.textContent = o.insecure || "";
  document.getElementById("logout").hidden = !o.tokens;
}

function renderCluster(o) {
  header(o);
  view.innerHTML =
    "<h2>Coordinators</h2>" + table(["ID", "address", "suffrage", "leader"],
      (o.peers || []).map(p => [td(p.id), td(p.address), td(p.suffrage), td(p.id === o.leader ? "leader" : "")])) +
    '<p class="muted">this node ' + esc(o.node) + ": term " + esc(o.raft.term) + ", commit " + esc(o.raft.commit_index) +
    ", applied " + esc(o.raft.applied_index) + "</p>" +
    "<h2>Queue by pool</h2>" + table(["pool", "pending", "running"], o.queue.map(q => [td(q.pool), td(q.pending), td(q.running)])) +
    "<h2>Workers</h2>" + table(["ID", "pool", "state", "slots", "running", ""],
      (o.workers || []).map(w => [td(w.id), td(w.pool), stateTd(w.state), td(w.slots), td(w.running),
        "<td>" + (w.state === "draining"
          ? button("Undrain", "/ui/api/workers/" + encodeURIComponent(w.id) + "/undrain", "Let " + w.id + " take work again?")
          : button("Drain", "/ui/api/workers/" + encodeURIComponent(w.id) + "/drain", "Drain " + w.id + "? Its running tasks finish or move; it takes no new work.")) + "</td>"])) +
    "<h2>Jobs</h2>" + table(["state", "jobs"], Object.entries(o.jobs).map(([s, n]) => [stateTd(s), td(n)]));
}

function jobRow(j) {
  return ['<td><a href="#/jobs/' + encodeURIComponent(j.id) + '">' + esc(j.id) + "</a></td>", td(j.name), td(j.kind), stateTd(j.state),
    bar(j.tasks_succeeded, j.tasks_total), td(j.rows_done + "/" + j.rows_total),
    td(j.rows_per_second > 0 ? Math.round(j.rows_per_second) + "/s" : "-"), td(dur(j.eta_seconds)), td(j.owner || "-"), td(ago(j.create_unix_ms))];
}

async function showJobs() {
  const d = await get("/ui/api/jobs?page=" + jobsPage);
  view.innerHTML = "<h2>Jobs (" + esc(d.total) + ")</h2>" +
    table(["ID", "name", "kind", "state", "tasks", "rows", "rate", "ETA", "owner", "created"], d.jobs ? d.jobs.map(jobRow) : []) +
    '<div class="pager"><button id="prev">newer</button><button id="next">older</button> page ' + esc(d.page) + " of " + esc(d.pages) + "</div>";
  document.getElementById("prev").onclick = () => { jobsPage = Math.max(1, jobsPage - 1); showJobs(); };
  document.getElementById("next").onclick = () => { jobsPage = Math.min(d.pages, jobsPage + 1); showJobs(); };
}

function lossChart(epochs) {
  if (!epochs || epochs.length < 2) return "";
  const w = 480, h = 160, pad = 24;
  const ys = epochs.map(e => e.train_loss), lo = Math.min(...ys), hi = Math.max(...ys);
  const x = i => pad + i * (w - 2 * pad) / (epochs.length - 1);
  const y = v => h - pad - (hi > lo ? (v - lo) / (hi - lo) : 0.5) * (h - 2 * pad);
  const pts = ys.map((v, i) => x(i).toFixed(1) + "," + y(v).toFixed(1)).join(" ");
  return "<h2>Training loss by epoch</h2>" + '<svg class="chart" width="' + w + '" height="' + h + '" role="img" aria-label="training loss">' +
    '<polyline fill="none" stroke="#3b82f6" stroke-width="2" points="' + pts + '"/>' +
    '<text x="4" y="14" font-size="11">' + esc(hi.toFixed(4)) + '</text><text x="4" y="' + (h - 6) + '" font-size="11">' + esc(lo.toFixed(4)) + "</text></svg>";
}

function renderJob(d) {
  const j = d.job;
  view.innerHTML = "<h2>Job " + esc(j.id) + " " + esc(j.name) + "</h2>" +
    table(["kind", "state", "tasks", "rows", "rate", "ETA", "owner"], [[td(j.kind), stateTd(j.state), bar(j.tasks_succeeded, j.tasks_total),
      td(j.rows_done + "/" + j.rows_total), td(j.rows_per_second > 0 ? Math.round(j.rows_per_second) + "/s" : "-"), td(dur(j.eta_seconds)), td(j.owner || "-")]]) +
    (j.error ? '<p class="err">' + esc(j.error) + "</p>" : "") +
    (["pending", "running", "finalizing"].includes(j.state)
      ? "<p>" + button("Cancel job", "/ui/api/jobs/" + encodeURIComponent(j.id) + "/cancel", "Cancel job " + j.id + "? Nothing of it is committed.") + "</p>" : "") +
    "<h2>Tasks</h2>" + table(["state", "tasks"], Object.entries(d.task_counts).map(([s, n]) => [stateTd(s), td(n)])) +
    table(["task", "state", "attempts", "failures", "worker", "rows", "last error"], (d.tasks || []).map(t =>
      [td(t.index), stateTd(t.state), td(t.attempts), td(t.failures), td(t.worker || "-"), td(t.rows), td(t.error || "", "err")])) +
    '<div class="pager"><button id="tprev">previous tasks</button><button id="tnext">next tasks</button> tasks page ' +
    esc(d.task_page) + " of " + esc(d.task_pages) + "</div>" +
    lossChart(d.epochs) +
    "<h2>Events</h2>" + table(["event"], (d.events || []).map(e => [td(e)]));
  document.getElementById("tprev").onclick = () => { taskPage = Math.max(1, d.task_page - 1); route(); };
  document.getElementById("tnext").onclick = () => { taskPage = Math.min(d.task_pages, d.task_page + 1); route(); };
}

function renderModels(o) {
  header(o);
  view.innerHTML = "<h2>Models</h2>" + table(["name", "production", "candidate", "versions", "last decision", ""],
    (o.models || []).map(m => [td(m.name), td(m.production ? "v" + m.production : "-"), td(m.candidate ? "v" + m.candidate : "-"), td(m.versions), td(m.last_event || "", "err"),
      "<td>" + (m.candidate && m.candidate !== m.production
        ? button("Promote v" + m.candidate, "/ui/api/models/" + encodeURIComponent(m.name) + "/promote?version=" + m.candidate, "Make " + m.name + " v" + m.candidate + " production?") : "") +
      button("Roll back", "/ui/api/models/" + encodeURIComponent(m.name) + "/rollback", "Restore " + m.name + "'s previous production version?") + "</td>"]));
}

function renderSchedules(o) {
  header(o);
  view.innerHTML = "<h2>Schedules</h2>" + (o.schedules || []).map(sc =>
    "<h2>" + esc(sc.name) + ' <span class="muted">' + esc(sc.cron + " " + (sc.time_zone || "UTC")) + "</span></h2>" +
    "<p>" + (sc.paused ? "paused" + (sc.pause_reason ? ": " + esc(sc.pause_reason) : "") + " " +
        button("Resume", "/ui/api/schedules/" + encodeURIComponent(sc.name) + "/pause?resume=1", "Resume " + sc.name + "?")
      : "next slot " + esc(sc.next_unix_ms ? new Date(sc.next_unix_ms).toISOString() : "-") + " " +
        button("Pause", "/ui/api/schedules/" + encodeURIComponent(sc.name) + "/pause", "Pause " + sc.name + "? Its slots are recorded as skipped.")) +
    (sc.failures_in_a_row ? ' <span class="err">' + esc(sc.failures_in_a_row) + " failures in a row</span>" : "") + "</p>" +
    table(["run", "trigger", "state", "model", "why"], (sc.runs || []).map(r =>
      [td(r.id), td(r.trigger), stateTd(r.state), td(r.model ? r.model + (r.promoted ? " (promoted)" : " (not promoted)") : "-"), td(r.reason || "", "err")]))
  ).join("") + ((o.schedules || []).length ? "" : '<p class="muted">no schedules</p>');
}

async function route() {
  const hash = location.hash.replace(/^#/, "") || "/";
  try {
    if (hash.startsWith("/jobs/")) {
      const id = decodeURIComponent(hash.slice(6));
      renderJob(await get("/ui/api/jobs/" + encodeURIComponent(id) + "?tasks=" + taskPage));
      listen("?job=" + encodeURIComponent(id) + "&tasks=" + taskPage, {overview: header, job: renderJob});
    } else if (hash === "/jobs") {
      await showJobs();
      listen("", {overview: o => { header(o); showJobs(); }});
    } else if (hash === "/schedules") {
      renderSchedules(await get("/ui/api/overview"));
      listen("", {overview: renderSchedules});
    } else if (hash === "/models") {
      renderModels(await get("/ui/api/overview"));
      listen("", {overview: renderModels});
    } else {
      renderCluster(await get("/ui/api/overview"));
      listen("", {overview: renderCluster});
    }
  } catch (e) {
    if (e.message !== "login") view.innerHTML = '<p class="err">' + esc(e.message) + "</p>";
  }
}

window.addEventListener("hashchange", () => { taskPage = 1; route(); });
route();
