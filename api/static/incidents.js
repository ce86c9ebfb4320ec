// The incident view: every open incident (list and map), and the selected one's plan steps,
// spill forecast and timeline (oldest first, the newest change at the bottom), with the
// operators' actions on it: take, note, step done, status, escalate, close. An `incident`
// server-sent event ({id, status, updated_at}) refreshes the list and, for the selected one,
// the incident itself.
import { call, query } from "/api.js";
import { $, ask, button, clock, element, failed, time, toast } from "/ui.js";

// one run of `task` at a time; asked again while it runs, it runs once more after
function coalesced(task) {
  let running = null;
  let again = false;
  return function run() {
    if (running) { again = true; return running; }
    running = (async () => {
      try {
        do { again = false; await task(); } while (again);
      } finally { running = null; }
    })();
    return running;
  };
}

const lastEntry = (incident) => incident.timeline?.at(-1)?.id ?? 0;

// the workflow's allowed moves (command.ALLOWED_TRANSITIONS); closing is its own action
const NEXT = { open: ["dispatched", "resolved"], dispatched: ["on_site", "resolved"], on_site: ["resolved"], resolved: ["dispatched"], closed: [] };
const STATUS_TEXT = { open: "open", dispatched: "dispatched", on_site: "on site", resolved: "resolved", closed: "closed" };
const MOVE_TEXT = { dispatched: "Dispatched", on_site: "On site", resolved: "Resolved" };

const overdue = (iso) => Boolean(iso) && new Date(iso).getTime() < Date.now();

function progress(done, total) {
  const box = element("span", null, "progress");
  const bar = element("span", null, "meter");
  bar.setAttribute("role", "progressbar");
  bar.setAttribute("aria-valuemin", "0");
  bar.setAttribute("aria-valuemax", String(total));
  bar.setAttribute("aria-valuenow", String(done));
  bar.setAttribute("aria-label", "plan progress");
  const fill = element("span");
  fill.style.width = `${total ? (100 * done) / total : 0}%`;
  bar.append(fill);
  box.append(bar, element("span", total ? `${done} of ${total} steps` : "no plan", "steps-text"));
  return box;
}

function statusBadge(status) {
  const badge = element("span", STATUS_TEXT[status] ?? status, `badge status ${status}`);
  badge.dataset.status = status;
  return badge;
}

export class IncidentView {
  constructor(map) {
    this.map = map;
    this.list = [];
    this.selected = null;  // the full Incident
    this.available = true;
    this.details = new Map();  // id -> the whole incident, for the alerts it gathered
    this.onAlerts = () => {};  // told when which alert belongs to which incident changes
    this.reload = coalesced(() => this.fetchList());
    this.refreshSelected = coalesced(() => (this.selected ? this.select(this.selected.id) : null));
    $("#incidents-closed").addEventListener("change", () => this.reload().catch(failed));
    $("#note-form").addEventListener("submit", (event) => { event.preventDefault(); this.note(); });
    $("#incident-open").addEventListener("click", () => this.open());
    // overdue markers move with the clock, not only with changes
    setInterval(() => {
      if (this.list.length) this.renderList();
      if (this.selected) this.renderSteps(this.selected);
    }, 15000);
  }

  // --- reading -----------------------------------------------------------------------------

  async fetchList() {
    try {
      const first = this.seen === undefined;
      this.list = await call("/incidents" + query({ include_closed: $("#incidents-closed").checked || "" }));
      this.available = true;
      // a new incident is news wherever the operator is looking (not those there at the start)
      const fresh = this.list.filter((incident) => !this.seen?.has(incident.id) && incident.status !== "closed");
      this.seen = new Set([...(this.seen ?? []), ...this.list.map((incident) => incident.id)]);
      if (fresh.length && !first) toast(fresh.map((incident) => `New incident #${incident.id}: ${incident.title}`).join("; "));
    } catch (error) {
      if (error.status !== 503) throw error;
      this.available = false;  // this platform runs no emergency command
      this.list = [];
      $("#no-incidents").textContent = `Emergency command is not running here: ${error.message}`;
    }
    this.renderList();
    await this.fetchDetails();
  }

  // the open incidents' alerts (the list has none): fetched again only when one changed
  async fetchDetails() {
    const wanted = this.list.filter((incident) => incident.status !== "closed");
    const stale = wanted.filter((incident) => this.details.get(incident.id)?.updated_at !== incident.updated_at);
    const found = await Promise.all(stale.map((incident) => call(`/incidents/${incident.id}`).catch(() => null)));
    for (const incident of found) if (incident) this.details.set(incident.id, incident);
    for (const id of this.details.keys()) if (!wanted.some((incident) => incident.id === id)) this.details.delete(id);
    if (stale.length || this.details.size !== wanted.length) this.onAlerts();
  }

  // the open incident an alert joined, if any
  incidentOf(fingerprint) {
    for (const incident of this.details.values()) if (incident.alerts.includes(fingerprint)) return incident;
    return null;
  }

  async select(id) {
    try {
      this.show(await call(`/incidents/${id}`));
    } catch (error) { failed(error); }
  }

  changed(event) {
    // from the event stream: the list, and the selected incident if it is the one
    this.reload().catch(() => {});
    if (this.selected && event.id === this.selected.id) this.refreshSelected();
  }

  // --- the list and the map ----------------------------------------------------------------

  renderList() {
    const open = this.list.filter((incident) => incident.status !== "closed");
    $("#incident-count").textContent = String(open.length);
    $("#incident-count").classList.toggle("hot", open.length > 0);
    $("#incidents tbody").replaceChildren(...this.list.map((incident) => this.row(incident)));
    if (this.available) $("#no-incidents").textContent = "No open incidents.";
    $("#no-incidents").hidden = this.list.length > 0;
    this.map?.incidents(this.list, this.selected, (id) => this.choose(id));
  }

  row(incident) {
    const row = element("tr", null, "incident");
    row.dataset.incident = String(incident.id);
    row.tabIndex = 0;
    if (this.selected?.id === incident.id) row.setAttribute("aria-current", "true");
    const title = element("td");
    title.append(element("span", `#${incident.id} `, "number"), element("span", incident.title, "title"),
      element("div", `${incident.type} · ${incident.district}`, "sub"));
    const escalation = element("td", null, "escalation");
    if (incident.escalation_level > 0) escalation.append(element("span", `level ${incident.escalation_level}`, "badge escalated"));
    if (incident.status !== "closed" && overdue(incident.next_due_at)) {
      const late = element("span", "overdue", "badge overdue");
      late.title = `a step was due at ${clock(incident.next_due_at)}`;
      escalation.append(late);
    }
    const plan = element("td");
    plan.append(progress(incident.steps_done, incident.steps_total));
    const status = element("td");
    status.append(statusBadge(incident.status));
    row.append(element("td", incident.severity, `sev ${incident.severity}`), title, status,
      element("td", incident.assignee ?? "—", "assignee"), plan, escalation, element("td", time(incident.opened_at)));
    row.addEventListener("click", () => this.choose(incident.id));
    row.addEventListener("keydown", (event) => { if (event.key === "Enter") this.choose(incident.id); });
    return row;
  }

  // picked by the operator (list or map): bring the view up and the map to it
  async choose(id) {
    document.dispatchEvent(new CustomEvent("smartcity:view", { detail: "incidents" }));
    await this.select(id);
    if (this.selected?.id === id) this.map?.focus(this.selected);
  }

  // --- the selected incident ---------------------------------------------------------------

  show(incident) {
    // an answer that left before a newer one arrived is older: keep the newer
    if (this.selected?.id === incident.id && lastEntry(incident) < lastEntry(this.selected)) return;
    this.selected = incident;
    history.replaceState(null, "", `#incident=${incident.id}`);
    // the list's row carries the same figures: keep it in step without waiting for the stream
    const index = this.list.findIndex((item) => item.id === incident.id);
    if (index >= 0) this.list[index] = { ...this.list[index], ...incident };
    this.renderList();
    const head = $("#incident-head");
    head.dataset.incident = String(incident.id);
    head.dataset.status = incident.status;
    $("#incident-title").textContent = `#${incident.id} ${incident.title}`;
    const facts = $("#incident-facts");
    facts.replaceChildren(element("span", incident.severity, `sev ${incident.severity}`), statusBadge(incident.status),
      element("span", incident.assignee ? `with ${incident.assignee}` : "nobody has it", "assignee"),
      element("span", incident.plan ?? "no plan", "badge plan"));
    if (incident.escalation_level > 0) facts.append(element("span", `escalated · level ${incident.escalation_level}`, "badge escalated"));
    this.renderActions(incident);
    $("#incident-none").hidden = true;
    $("#incident-body").hidden = false;
    this.renderSteps(incident);
    this.renderForecast(incident.forecast);
    this.renderTimeline(incident);
    const closed = incident.status === "closed";
    $("#incident-report").hidden = !closed;
    $("#incident-report").textContent = closed ? `Closed ${clock(incident.closed_at)}: ${incident.report}` : "";
    for (const control of $("#note-form").elements) control.disabled = closed;
  }

  renderActions(incident) {
    const actions = [];
    if (incident.status !== "closed") {
      actions.push(button("Take", "take", () => this.act("take", {}, "taken"),
        incident.assignee ? `Take (now with ${incident.assignee})` : "Take"));
      for (const next of NEXT[incident.status] ?? []) {
        actions.push(button(MOVE_TEXT[next], `move ${next}`,
          () => this.act("status", { status: next }, STATUS_TEXT[next]), `Mark ${STATUS_TEXT[next]}`));
      }
      actions.push(button("Escalate…", "escalate", () => this.escalate()));
    }
    if (incident.status === "resolved") actions.push(button("Close…", "close", () => this.close()));
    $("#incident-actions").replaceChildren(...actions);
  }

  renderSteps(incident) {
    $("#no-plan").hidden = incident.steps.length > 0;
    $("#steps tbody").replaceChildren(...incident.steps.map((step) => {
      const row = element("tr", null, `step ${step.status}`);
      row.dataset.step = step.step_id;
      row.dataset.status = step.status;
      const late = (step.status === "pending" || step.status === "running") && overdue(step.due_at);
      const due = element("td", clock(step.due_at), late ? "when late" : "when");
      if (late) due.append(element("span", "overdue", "badge overdue"));
      if (step.escalated_at) due.append(element("span", "escalated", "badge escalated"));
      const outcome = element("td", null, "outcome");
      if (step.status === "done" && step.performer === "person") {
        outcome.append(element("span", `${step.done_by} · ${clock(step.done_at)}`, "who"));
        if (step.comment) outcome.append(element("div", step.comment, "sub"));
      } else if (step.performer === "platform") {
        outcome.append(element("span", step.result || (step.status === "pending" ? "waiting for the platform" : ""), "result"));
      }
      // a person's step, or a platform's step that failed, can be done by hand
      if ((step.status === "pending" || step.status === "failed") && incident.status !== "closed"
          && (step.performer === "person" || step.status === "failed")) {
        outcome.append(button("Done", "done", () => this.stepDone(step), `Mark step "${step.title}" done`));
      }
      const title = element("td", null, "title");
      title.append(element("span", step.title),
        element("div", step.performer === "person" ? "by a person" : `by the platform · ${step.action}`, "sub performer"));
      row.append(element("td", step.position + 1, "num"), title, due,
        element("td", step.status, `badge-cell ${step.status}`), outcome);
      return row;
    }));
  }

  renderForecast(forecast) {
    $("#forecast-box").hidden = !forecast;
    if (!forecast) { $("#forecast tbody").replaceChildren(); return; }
    const flow = forecast.flow_m_s === null ? "flow unknown" : `${forecast.flow_m_s} m/s`;
    $("#forecast-caption").textContent =
      `Spill on ${forecast.river}: first seen at ${forecast.origin} (${forecast.origin_section}) ${clock(forecast.seen_at)}, ${flow}`;
    $("#forecast tbody").replaceChildren(...forecast.waypoints.map((place) => {
      const row = element("tr", null, `waypoint ${place.state}`);
      row.dataset.waypoint = place.name;
      row.dataset.state = place.state;
      const name = element("td");
      name.append(element("span", place.name), element("div", `${place.kind} · ${place.section}`, "sub"));
      const seen = element("td", place.state === "confirmed" ? clock(place.seen_at) : place.state === "missed" ? "missed" : "not yet",
        `seen ${place.state}`);
      row.append(name, element("td", place.km_from_origin.toFixed(1), "num"),
        element("td", place.expected_at ? clock(place.expected_at) : "unknown", "when"), seen);
      return row;
    }));
  }

  renderTimeline(incident) {
    const list = $("#timeline");
    // follow the newest unless the operator scrolled up to read, in this same incident
    const follow = list.dataset.incident !== String(incident.id)
      || list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    list.dataset.incident = String(incident.id);
    list.replaceChildren(...incident.timeline.map((entry) => {
      const item = element("li", null, "entry");
      item.dataset.kind = entry.kind;
      item.dataset.entry = String(entry.id);
      const when = element("time", clock(entry.at));
      when.dateTime = entry.at;
      item.append(when, element("span", entry.actor, "actor"), element("span", entry.kind, "badge kind"),
        element("span", entry.text, "text"));
      return item;
    }));
    if (follow) list.scrollTop = list.scrollHeight;  // the newest is at the bottom
  }

  // --- actions -----------------------------------------------------------------------------

  async act(path, body, done) {
    const incident = this.selected;
    try {
      this.show(await call(`/incidents/${incident.id}/${path}`, { method: "POST", body }));
      toast(`Incident #${incident.id} ${done}.`);
    } catch (error) { failed(error); }
  }

  // by hand: the district's middle is its place on the map until it has one of its own
  async open() {
    const types = new Set(this.list.map((incident) => incident.type));
    $("#open-types").replaceChildren(...[...types].sort().map((type) => {
      const option = element("option");
      option.value = type;
      return option;
    }));
    const districts = [...(this.map?.centres.keys() ?? [])].sort();
    $("#open-district").replaceChildren(...districts.map((name) => element("option", name)));
    $("#open-title").value = "";
    if (!(await ask($("#open-dialog")))) return;
    try {
      const made = await call("/incidents", {
        method: "POST",
        body: { type: $("#open-type").value.trim(), title: $("#open-title").value.trim(),
          district: $("#open-district").value, severity: $("#open-severity").value },
      });
      toast(`Incident #${made.id} opened.`);
      this.seen = new Set([...(this.seen ?? []), made.id]);  // not news to whoever opened it
      await this.reload();
      this.show(made);
    } catch (error) { failed(error); }
  }

  async note() {
    const text = $("#note-text").value.trim();
    if (!this.selected || !text) return;
    await this.act("notes", { text }, "noted");
    if (this.selected) $("#note-text").value = "";
  }

  async stepDone(step) {
    $("#step-what").textContent = `${step.position + 1}. ${step.title}`;
    $("#step-comment").value = "";
    if (!(await ask($("#step-dialog")))) return;
    const comment = $("#step-comment").value.trim();
    await this.act(`steps/${encodeURIComponent(step.step_id)}/done`, comment ? { comment } : {}, `step "${step.title}" done`);
  }

  async escalate() {
    $("#escalate-reason").value = "";
    if (!(await ask($("#escalate-dialog")))) return;
    await this.act("escalate", { reason: $("#escalate-reason").value.trim() }, "escalated");
  }

  async close() {
    $("#close-report").value = "";
    if (!(await ask($("#close-dialog")))) return;
    await this.act("close", { report: $("#close-report").value.trim() }, "closed");
  }
}
