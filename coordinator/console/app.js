// The nightshift console: hash routes, data from /ui/api, kept live by one
// EventSource (/ui/events) per page. No framework, no build step.
"use strict";

const view = document.getElementById("view");
let source = null;
let jobsPage = 1;
let taskPage = 1;
let taskFilter = "";
let schedulePage = 1;

function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
}
function table(head, rows) {
  return "<table><thead><tr>" + head.map(h => "<th>" + esc(h) + "</th>").join("") + "</tr></thead><tbody>" +
    (rows.length ? rows.map(r => "<tr>" + r.join("") + "</tr>").join("") : '<tr><td class="muted" colspan="' + head.length + '">none</td></tr>') +
    "</tbody></table>";
}
// kv is a two-column table of facts, without a header.
function kv(rows) {
  return '<table class="kv"><tbody>' + rows.map(r => "<tr>" + r.join("") + "</tr>").join("") + "</tbody></table>";
}
function td(v, cls) { return "<td" + (cls ? ' class="' + cls + '"' : "") + ">" + esc(v) + "</td>"; }
function stateTd(s) { return td(s, "state-" + s); }
function bar(done, total) {
  return '<td><progress max="' + esc(Math.max(total, 1)) + '" value="' + esc(Math.min(done, total)) + '"></progress> ' + esc(done + "/" + total) + "</td>";
}
function dur(s) {
  if (!(s > 0)) return "-";
  if (s < 0.1) return Math.max(1, Math.round(s * 1000)) + "ms";
  if (s < 10) return Number(s.toFixed(s < 1 ? 2 : 1)) + "s";
  if (s < 90) return Math.round(s) + "s";
  if (s < 5400) return Math.round(s / 60) + "m";
  return (s / 3600).toFixed(1) + "h";
}
function ago(ms) { return dur((Date.now() - ms) / 1000) + " ago"; }
function stamp(ms) { return ms ? new Date(ms).toISOString().replace("T", " ").slice(0, 19) + "Z" : "-"; }
function clock(ms) { return new Date(ms).toISOString().slice(11, 19); }
// num prints a metric: five significant digits, "-" for none (NaN and
// infinities arrive as null).
function num(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return "-";
  return Math.abs(v) >= 1e5 ? v.toFixed(0) : String(Number(v.toPrecision(5)));
}
function signed(v) { return v === null || v === undefined ? "-" : (v >= 0 ? "+" : "") + v.toFixed(5); }
function link(href, text) { return '<a href="' + esc(href) + '">' + esc(text) + "</a>"; }
function linkTd(href, text) { return "<td>" + link(href, text) + "</td>"; }
function jobHref(id) { return "#/jobs/" + encodeURIComponent(id); }
function modelHref(name, v) { return "#/models/" + encodeURIComponent(name) + (v ? "/v" + v : ""); }
function runHref(id) { return "#/runs/" + encodeURIComponent(id); }
function scheduleHref(name) { return "#/schedules/" + encodeURIComponent(name); }
// more says how many of a bounded list the page leaves out.
function more(shown, total, what) {
  return total > shown ? '<p class="muted">showing ' + esc(shown) + " of " + esc(total) + " " + esc(what) + "</p>" : "";
}
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

// The job page's task filter: a state, or the tasks that failed at least once.
document.addEventListener("click", e => {
  const b = e.target.closest("button[data-filter]");
  if (!b) return;
  taskFilter = b.dataset.filter;
  taskPage = 1;
  route();
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
    "<h2>Workers</h2>" + table(["ID", "pool", "state", "slots", "running", "last change", ""],
      (o.workers || []).map(w => [td(w.id), td(w.pool), stateTd(w.state), td(w.slots), td(w.running), td(w.last_event || "-", "muted"),
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

// lineChart draws one series as an SVG line: the y axis labelled with its
// min and max, the x axis with its first and last x, and the last value.
function lineChart(title, pts, xname) {
  pts = pts.filter(p => Number.isFinite(p.y));
  if (!pts.length) return "";
  const w = 380, h = 180, l = 62, r = 74, t = 24, b = 30;
  const xs = pts.map(p => p.x), ys = pts.map(p => p.y);
  const xlo = Math.min(...xs), xhi = Math.max(...xs), ylo = Math.min(...ys), yhi = Math.max(...ys);
  const X = x => l + (xhi > xlo ? (x - xlo) / (xhi - xlo) : 0.5) * (w - l - r);
  const Y = v => h - b - (yhi > ylo ? (v - ylo) / (yhi - ylo) : 0.5) * (h - t - b);
  const last = pts[pts.length - 1];
  const line = pts.length > 1
    ? '<polyline class="series" points="' + pts.map(p => X(p.x).toFixed(1) + "," + Y(p.y).toFixed(1)).join(" ") + '"/>' : "";
  return '<svg class="chart" width="' + w + '" height="' + h + '" role="img" aria-label="' + esc(title) + '">' +
    '<text class="title" x="' + l + '" y="15">' + esc(title) + "</text>" +
    '<line class="axis" x1="' + l + '" y1="' + t + '" x2="' + l + '" y2="' + (h - b) + '"/>' +
    '<line class="axis" x1="' + l + '" y1="' + (h - b) + '" x2="' + (w - r) + '" y2="' + (h - b) + '"/>' +
    '<text class="tick" x="' + (l - 4) + '" y="' + (t + 4) + '" text-anchor="end">' + esc(num(yhi)) + "</text>" +
    '<text class="tick" x="' + (l - 4) + '" y="' + (h - b) + '" text-anchor="end">' + esc(num(ylo)) + "</text>" +
    '<text class="tick" x="' + l + '" y="' + (h - b + 14) + '">' + esc(xname + " " + xlo) + "</text>" +
    '<text class="tick" x="' + (w - r) + '" y="' + (h - b + 14) + '" text-anchor="end">' + esc(xname + " " + xhi) + "</text>" +
    line + '<circle class="series" cx="' + X(last.x).toFixed(1) + '" cy="' + Y(last.y).toFixed(1) + '" r="3"/>' +
    '<text class="last" x="' + (X(last.x) + 6).toFixed(1) + '" y="' + (Y(last.y) + 4).toFixed(1) + '">' + esc(num(last.y)) + "</text></svg>";
}

// epochCharts: the training loss and each holdout metric, per epoch.
function epochCharts(epochs) {
  if (!epochs || !epochs.length) return "";
  // "rows" is the holdout's size, the same every epoch: no curve to see.
  const names = [...new Set(epochs.flatMap(e => Object.keys(e.holdout || {})))].filter(n => n !== "rows").sort();
  return "<h2>Metrics by epoch</h2><div class=\"charts\">" +
    lineChart("training loss", epochs.map(e => ({x: e.epoch, y: e.train_loss})), "epoch") +
    names.map(n => lineChart("holdout " + n, epochs.map(e => ({x: e.epoch, y: (e.holdout || {})[n]})), "epoch")).join("") + "</div>";
}

// timelineChart draws the per-worker timeline: a strip per worker, a cell
// per time bucket, darker for more busy task-seconds.
function timelineChart(tl) {
  if (!tl || !tl.rows || !tl.rows.length) return "";
  const label = 180, cell = 12, rowH = 15, top = 6, n = tl.rows[0].busy_ms.length;
  const w = label + n * cell + 70, h = top + tl.rows.length * rowH + 22;
  const scale = tl.max_ms > 0 ? tl.max_ms : 1;
  let out = '<svg class="chart timeline" width="' + w + '" height="' + h + '" role="img" aria-label="task timeline per worker">';
  tl.rows.forEach((r, i) => {
    const y = top + i * rowH;
    out += '<text class="tick" x="' + (label - 6) + '" y="' + (y + 11) + '" text-anchor="end">' + esc(r.worker.length > 26 ? r.worker.slice(0, 25) + "…" : r.worker) + "</text>" +
      '<rect class="strip" x="' + label + '" y="' + y + '" width="' + n * cell + '" height="' + (rowH - 2) + '"/>';
    r.busy_ms.forEach((ms, k) => {
      if (!(ms > 0)) return;
      const from = tl.start_unix_ms + k * tl.bucket_ms;
      const level = Math.min(1, (r.others ? ms / r.others : ms) / scale); // "other" by its mean per worker
      out += '<rect class="busy" x="' + (label + k * cell) + '" y="' + y + '" width="' + (cell - 1) + '" height="' + (rowH - 2) +
        '" fill-opacity="' + (0.15 + 0.85 * level).toFixed(2) + '"><title>' + esc(r.worker + " " + clock(from) + "–" + clock(from + tl.bucket_ms) +
        ": busy " + dur(ms / 1000) + " (task-seconds)") + "</title></rect>";
    });
    out += '<text class="tick" x="' + (label + n * cell + 6) + '" y="' + (y + 11) + '">' + esc(dur(r.total_ms / 1000)) + "</text>";
  });
  const axis = top + tl.rows.length * rowH + 14;
  out += '<text class="tick" x="' + label + '" y="' + axis + '">' + esc(clock(tl.start_unix_ms)) + "</text>" +
    '<text class="tick" x="' + (label + n * cell) + '" y="' + axis + '" text-anchor="end">' + esc(clock(tl.start_unix_ms + n * tl.bucket_ms)) + "</text></svg>";
  return "<h2>Task timeline by worker</h2>" +
    '<p class="muted">busy task-seconds per ' + esc(dur(tl.bucket_ms / 1000)) + " bucket (succeeded and running attempts), total at the right; " +
    esc(tl.workers) + " workers" + (tl.rows.some(r => r.others) ? ", the busiest " + esc(tl.rows.length - 1) + " by name" : "") + "</p>" + out;
}

// evaluationSection: a champion/challenger comparison on the same rows.
function evaluationSection(ev, challenger) {
  if (!ev) return "";
  const names = [...new Set([...Object.keys(ev.challenger || {}), ...Object.keys(ev.champion || {})])].sort();
  const rows = [[td(challenger + " (challenger)"), ...names.map(n => td(num((ev.challenger || {})[n])))]];
  if (ev.champion_version) rows.push([td("v" + ev.champion_version + " (production)"), ...names.map(n => td(num((ev.champion || {})[n])))]);
  const facts = [];
  if (ev.champion_error) facts.push([td("production"), td(ev.champion_error, "err")]);
  if (ev.gain !== undefined) {
    facts.push([td("gain"), td(signed(ev.gain) + (ev.bootstrap ? " (" + num(100 * ev.confidence) + "% interval [" + signed(ev.gain_low) + ", " + signed(ev.gain_high) +
      "], " + ev.bootstrap + " paired resamples)" : "") + " (positive: the challenger is better)")]);
  }
  if (ev.margin !== undefined) facts.push([td("margin"), td(ev.margin)]);
  if (ev.manual) facts.push([td("policy"), td("manual: promoted by hand only")]);
  if (ev.decay_median || ev.decayed) facts.push([td("decay"), td((ev.decayed ? "DECAYED" : "holds") + ": trailing median " + num(ev.decay_median), ev.decayed ? "err" : "")]);
  facts.push([td("decision"), td(ev.decision || (ev.promoted ? "promoted" : "not promoted"), ev.promoted ? "" : "err")]);
  return "<h2>Evaluation of " + esc(challenger) + (ev.champion_version ? " against v" + esc(ev.champion_version) : "") +
    " (" + esc(ev.metric) + " on the same " + esc(ev.rows) + " holdout rows)</h2>" +
    table(["model", ...names], rows) + kv(facts) +
    (ev.slices ? "<h2>Slices, worst first (" + esc(ev.metric) + ")</h2>" +
      table(["slice", "rows", challenger, ev.champion_version ? "v" + ev.champion_version : "production", "gain"], ev.slices.map(sl =>
        [td(sl.column + "=" + sl.value), td(sl.rows), td(num(sl.challenger)), td(num(sl.champion)), td(signed(sl.gain), sl.gain < 0 ? "err" : "")])) +
      more(ev.slices.length, ev.slices_total, "slices") : "");
}

// trainSection: the group (generation, members by rank, past
// generations) and the registry's outcome.
function trainSection(t, epochs) {
  if (!t) return epochCharts(epochs);
  return "<h2>Training</h2>" + table(["generation", "step", "epoch", "loss", "restarts", "checkpoint", "registered"],
    [[td(t.generation), td(t.step + (t.total_steps ? "/" + t.total_steps : "")), td(t.epoch), td(num(t.loss)), td(t.restarts),
      td(t.checkpoint_step ? "step " + t.checkpoint_step : "-"),
      t.registered ? linkTd(modelHref(t.registered.split("@")[0], t.registered.split("@v")[1]), t.registered) : td("-")]]) +
    (t.promotion_reason ? '<p class="' + (t.promoted ? "" : "err") + '">' + esc(t.promotion_reason) + "</p>" : "") +
    epochCharts(epochs) +
    "<h2>Generation " + esc(t.generation) + " members</h2>" +
    table(["rank", "worker", "task", "attempt"], (t.members || []).map(m => [td(m.rank), td(m.worker), td(m.task), td(m.attempt)])) +
    more((t.members || []).length, t.members_total, "members") +
    (t.history ? "<h2>Generations</h2>" + table(["generation", "workers", "formed", ""], t.history.map(g =>
      [td(g.generation), td(g.workers.join(", ")), td(stamp(g.unix_ms)), td(g.restart ? "restarted from the checkpoint" : "")])) : "") +
    evaluationSection(t.evaluation, t.registered ? "v" + t.registered.split("@v")[1] : "challenger");
}

function taskFilters(d) {
  const names = ["", "running", "failed", "errors", "pending", "succeeded", "cancelled"];
  return '<div class="filters">' + names.map(n => '<button data-filter="' + n + '"' + (n === (d.task_filter || "") ? ' class="on"' : "") + ">" +
    esc((n || "all") + (n && d.task_counts[n] !== undefined ? " (" + d.task_counts[n] + ")" : "")) + "</button>").join("") + "</div>";
}

// ownerTd: a pipeline step's job is owned by "pipeline:RUN": link the run.
function ownerTd(owner) {
  return owner && owner.startsWith("pipeline:") ? linkTd(runHref(owner.slice(9)), owner) : td(owner || "-");
}

function renderJob(d) {
  const j = d.job;
  view.innerHTML = "<h2>Job " + esc(j.id) + " " + esc(j.name) + "</h2>" +
    table(["kind", "state", "tasks", "rows", "rate", "ETA", "owner"], [[td(j.kind), stateTd(j.state), bar(j.tasks_succeeded, j.tasks_total),
      td(j.rows_done + "/" + j.rows_total), td(j.rows_per_second > 0 ? Math.round(j.rows_per_second) + "/s" : "-"), td(dur(j.eta_seconds)), ownerTd(j.owner)]]) +
    (j.error ? '<p class="err">' + esc(j.error) + "</p>" : "") +
    (["pending", "running", "finalizing"].includes(j.state)
      ? "<p>" + button("Cancel job", "/ui/api/jobs/" + encodeURIComponent(j.id) + "/cancel", "Cancel job " + j.id + "? Nothing of it is committed.") + "</p>" : "") +
    trainSection(d.train, d.epochs) +
    timelineChart(d.timeline) +
    "<h2>Tasks</h2>" + table(["state", "tasks"], Object.entries(d.task_counts).map(([s, n]) => [stateTd(s), td(n)])) +
    taskFilters(d) +
    table(["task", "state", "attempts", "failures", "worker", "rows", "took", "finished", "last error"], (d.tasks || []).map(t =>
      [td(t.index), stateTd(t.state), td(t.attempts), td(t.failures), td(t.worker || "-"), td(t.rows), td(t.duration_ms ? dur(t.duration_ms / 1000) : "-"),
        td(t.finish_unix_ms ? clock(t.finish_unix_ms) : "-"), td(t.error || "", "err")])) +
    '<div class="pager"><button id="tprev">previous tasks</button><button id="tnext">next tasks</button> tasks page ' +
    esc(d.task_page) + " of " + esc(d.task_pages) + " (" + esc(d.tasks_matched) + " tasks)</div>" +
    "<h2>Events</h2>" + table(["event"], (d.events || []).map(e => [td(e, "wrap")]));
  document.getElementById("tprev").onclick = () => { taskPage = Math.max(1, d.task_page - 1); route(); };
  document.getElementById("tnext").onclick = () => { taskPage = Math.min(d.task_pages, d.task_page + 1); route(); };
}

function promoteButton(name, v) {
  return button("Promote v" + v, "/ui/api/models/" + encodeURIComponent(name) + "/promote?version=" + v, "Make " + name + " v" + v + " production?");
}
function rollbackButton(name) {
  return button("Roll back", "/ui/api/models/" + encodeURIComponent(name) + "/rollback", "Restore " + name + "'s previous production version?");
}

function renderModels(o) {
  header(o);
  view.innerHTML = "<h2>Models</h2>" + table(["name", "production", "candidate", "versions", "last decision", ""],
    (o.models || []).map(m => [linkTd(modelHref(m.name), m.name), td(m.production ? "v" + m.production : "-"), td(m.candidate ? "v" + m.candidate : "-"), td(m.versions), td(m.last_event || "", "err"),
      "<td>" + (m.candidate && m.candidate !== m.production ? promoteButton(m.name, m.candidate) : "") + rollbackButton(m.name) + "</td>"]));
}

// renderModel: one model's versions (newest first), its history of
// decisions with who made them, and one version's evaluation.
function renderModel(m) {
  view.innerHTML = "<h2>Model " + esc(m.name) + "</h2>" +
    table(["production", "candidate", "earlier production", ""], [[td(m.production ? "v" + m.production : "-"), td(m.candidate ? "v" + m.candidate : "-"),
      td((m.production_history || []).map(v => "v" + v).join(", ") || "-"),
      "<td>" + ((m.production_history || []).length ? rollbackButton(m.name) : "") + "</td>"]]) +
    "<h2>Versions</h2>" + table(["version", "created", "aliases", "metrics", "gain", "job", "decision", ""], (m.versions || []).map(v =>
      [linkTd(modelHref(m.name, v.version), "v" + v.version), td(stamp(v.create_unix_ms)), td((v.aliases || []).join(", ")),
        td(Object.entries(v.metrics || {}).sort().map(([k, x]) => k + " " + num(x)).join(", ")),
        td(v.gain !== undefined ? v.metric + " " + signed(v.gain) : "-"), v.job_id ? linkTd(jobHref(v.job_id), v.job_id) : td("-"),
        td(v.decision || (v.promoted ? "promoted" : ""), v.promoted ? "wrap" : "err"),
        "<td>" + (v.version !== m.production ? promoteButton(m.name, v.version) : "") + "</td>"])) +
    more((m.versions || []).length, m.versions_total, "versions") +
    (m.evaluation ? evaluationSection(m.evaluation, "v" + m.selected) : (m.selected ? '<p class="muted">v' + esc(m.selected) + " has no evaluation (registered without a comparison)</p>" : "")) +
    "<h2>History</h2>" + table(["when", "who", "what"], (m.events || []).map(e => [td(stamp(e.unix_ms)), td(e.who || "-"), td(e.message, "wrap")])) +
    more((m.events || []).length, m.events_total, "events");
}

function runRows(runs, withSlot) {
  return (runs || []).map(r => [linkTd(runHref(r.id), r.id), ...(withSlot ? [td(stamp(r.slot_unix_ms))] : []), td(r.trigger), stateTd(r.state),
    td(r.model ? r.model + (r.promoted ? " (promoted)" : " (not promoted)") : "-"), td(r.why || r.reason || "", r.promoted ? "wrap" : "err")]);
}

function renderSchedules(o) {
  header(o);
  view.innerHTML = "<h2>Schedules</h2>" + (o.schedules || []).map(sc =>
    "<h2>" + link(scheduleHref(sc.name), sc.name) + ' <span class="muted">' + esc(sc.cron + " " + (sc.time_zone || "UTC")) + "</span></h2>" +
    "<p>" + (sc.paused ? "paused" + (sc.pause_reason ? ": " + esc(sc.pause_reason) : "") + " " +
        button("Resume", "/ui/api/schedules/" + encodeURIComponent(sc.name) + "/pause?resume=1", "Resume " + sc.name + "?")
      : "next slot " + esc(stamp(sc.next_unix_ms)) + " " +
        button("Pause", "/ui/api/schedules/" + encodeURIComponent(sc.name) + "/pause", "Pause " + sc.name + "? Its slots are recorded as skipped.")) +
    (sc.failures_in_a_row ? ' <span class="err">' + esc(sc.failures_in_a_row) + " failures in a row</span>" : "") + "</p>" +
    table(["run", "trigger", "state", "model", "why"], runRows(sc.runs, false))
  ).join("") + ((o.schedules || []).length ? "" : '<p class="muted">no schedules</p>') +
    ((o.adhoc_runs || []).length ? "<h2>Ad-hoc runs</h2>" + table(["run", "trigger", "state", "model", "why"], runRows(o.adhoc_runs, false)) : "");
}

// renderSchedule: next slots, changes and the run history, paged.
function renderSchedule(d) {
  view.innerHTML = "<h2>Schedule " + esc(d.name) + ' <span class="muted">' + esc(d.cron + " " + (d.time_zone || "UTC")) + "</span></h2>" +
    (d.description ? "<p>" + esc(d.description) + "</p>" : "") +
    (d.paused ? '<p class="err">paused' + (d.pause_reason ? ": " + esc(d.pause_reason) : "") + "</p>" : "") +
    (d.failures_in_a_row ? '<p class="err">' + esc(d.failures_in_a_row) + " failures in a row</p>" : "") +
    "<h2>Next slots</h2>" + table(["slot"], (d.next_unix_ms_list || []).map(t => [td(stamp(t))])) +
    "<h2>Runs</h2>" + table(["run", "slot", "trigger", "state", "model", "why"], runRows(d.runs_page, true)) +
    '<div class="pager"><button id="sprev">newer</button><button id="snext">older</button> page ' + esc(d.page) + "</div>" +
    "<h2>Changes</h2>" + table(["change"], (d.events || []).map(e => [td(e)]));
  document.getElementById("sprev").onclick = () => { schedulePage = Math.max(1, d.page - 1); route(); };
  document.getElementById("snext").onclick = () => { if (d.more) { schedulePage = d.page + 1; route(); } };
}

// validationSection: the validate step's data-gate report, worst first.
function validationSection(v) {
  if (!v) return "";
  return "<h2>Data gate: " + esc(v.verdict) + "</h2>" +
    '<p class="muted">dataset ' + esc(v.dataset) + " against " + esc(v.reference || "-") + "; " + esc(num(100 * v.drifted_share)) + "% of the columns drifted</p>" +
    (v.summary ? '<p class="' + (v.verdict === "ok" ? "" : "err") + '">' + esc(v.summary) + "</p>" : "") +
    "<h2>Contract violations</h2>" + table(["severity", "column", "rule", "observed", "allowed"], (v.violations || []).map(x =>
      [td(x.severity, "sev-" + x.severity), td(x.column), td(x.rule), td(x.observed, "wrap"), td(x.allowed, "wrap")])) +
    more((v.violations || []).length, v.violations_total, "violations") +
    "<h2>Drift by column</h2>" + table(["severity", "column", "statistic", "value", "L∞", "warn", "fail"], (v.drift || []).map(x =>
      [td(x.severity, "sev-" + x.severity), td(x.column), td(x.metric), td(num(x.value)), td(num(x.linf)), td(num(x.warn)), td(num(x.fail))])) +
    more((v.drift || []).length, v.drift_total, "columns");
}

// renderRun: one run's steps, its data gate, its evaluation and why it
// did or did not promote.
function renderRun(r) {
  view.innerHTML = "<h2>Run " + esc(r.id) + "</h2>" +
    table(["schedule", "slot", "trigger", "state", "model", "started", "ended", "owner"], [[
      r.schedule ? linkTd(scheduleHref(r.schedule), r.schedule) : td("ad hoc"), td(stamp(r.slot_unix_ms)), td(r.trigger), stateTd(r.state),
      r.model ? linkTd(modelHref(r.model.split("@")[0], r.model.split("@v")[1]), r.model) : td("-"),
      td(stamp(r.start_unix_ms)), td(stamp(r.end_unix_ms)), td(r.owner || "-")]]) +
    '<p class="' + (r.promoted ? "ok" : "err") + '">' + esc(r.why) + "</p>" +
    (r.reason && r.reason !== r.why ? '<p class="muted">' + esc(r.reason) + "</p>" : "") +
    "<h2>Steps</h2>" + table(["step", "state", "tries", "job", "started", "took", "artifact", "detail", "error"], (r.steps || []).map(st =>
      [td(st.name), stateTd(st.state), td(st.tries || "-"), st.job_id ? linkTd(jobHref(st.job_id), st.job_id) : td("-"), td(stamp(st.start_unix_ms)),
        td(st.end_unix_ms && st.start_unix_ms ? dur((st.end_unix_ms - st.start_unix_ms) / 1000) : "-"),
        td(st.artifact || (st.reused_from ? "reused from " + st.reused_from : ""), "wrap"), td(st.detail || "", "wrap"), td(st.error || "", "err")])) +
    (r.dataset ? '<p class="muted">dataset ' + esc(r.dataset) + (r.fingerprint ? " (" + esc(r.fingerprint) + ")" : "") + "</p>" : "") +
    validationSection(r.validation) +
    evaluationSection(r.evaluation, r.model ? "v" + r.model.split("@v")[1] : "challenger");
}

// route shows the page the hash names: it loads the page's JSON, then
// keeps it live on one event stream that pushes the same data.
async function route() {
  const hash = location.hash.replace(/^#/, "") || "/";
  const parts = hash.split("/").map(decodeURIComponent); // "", "models", NAME, "v3"
  try {
    if (parts[1] === "jobs" && parts.length > 2) {
      const q = "?tasks=" + taskPage + "&filter=" + encodeURIComponent(taskFilter);
      renderJob(await get("/ui/api/jobs/" + encodeURIComponent(parts[2]) + q));
      listen(q + "&job=" + encodeURIComponent(parts[2]), {overview: header, job: renderJob});
    } else if (hash === "/jobs") {
      await showJobs();
      listen("", {overview: o => { header(o); showJobs(); }});
    } else if (parts[1] === "models" && parts.length > 2) {
      const q = "?version=" + encodeURIComponent((parts[3] || "").replace(/^v/, ""));
      renderModel(await get("/ui/api/models/" + encodeURIComponent(parts[2]) + q));
      listen(q + "&model=" + encodeURIComponent(parts[2]), {overview: header, model: renderModel});
    } else if (parts[1] === "runs" && parts.length > 2) {
      const id = parts.slice(2).join("/");
      renderRun(await get("/ui/api/runs/" + encodeURIComponent(id)));
      listen("?run=" + encodeURIComponent(id), {overview: header, run: renderRun});
    } else if (parts[1] === "schedules" && parts.length > 2) {
      const q = "?page=" + schedulePage;
      renderSchedule(await get("/ui/api/schedules/" + encodeURIComponent(parts[2]) + q));
      listen(q + "&schedule=" + encodeURIComponent(parts[2]), {overview: header, schedule: renderSchedule});
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

window.addEventListener("hashchange", () => { taskPage = 1; taskFilter = ""; schedulePage = 1; route(); });
route();
