// The operators' page: login, active alerts (filter, acknowledge, silence), history, presence
// per district, the map, charts, the incident view (incidents.js), and live updates over
// server-sent events.
import { call, query, token, Unauthorized, whenUnauthorized } from "/api.js";
import { CityMap } from "/map.js";
import { drawChart } from "/chart.js";
import { IncidentView } from "/incidents.js";
import { $, ask, button, element, failed, time, toast } from "/ui.js";

const state = { alerts: [], silences: [], verdicts: new Map(), devices: [], presence: null, stream: null, map: null, tab: "active", incidents: null };

const where = (alert) => alert.labels.device || alert.labels.cabinet || alert.labels.junction || alert.labels.section || "";

// --- login ---------------------------------------------------------------------------------

function showLogin(message = "") {
  state.stream?.close();
  state.stream = null;
  $("#app").hidden = true;
  $("#login").hidden = false;
  $("#login-error").textContent = message;
  $("#token").focus();
}
whenUnauthorized(showLogin);

$("#login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  token.set($("#token").value.trim());
  $("#token").value = "";
  await start();
});

$("#logout").addEventListener("click", () => { token.clear(); showLogin("Logged out."); });

// --- alerts --------------------------------------------------------------------------------

function filters() {
  return { district: $("#f-district").value, kind: $("#f-kind").value, severity: $("#f-severity").value };
}

function silencedBy(alert) {
  // Alertmanager's verdict; an acknowledgement's own silence is shown as the acknowledgement
  const ids = state.verdicts.get(alert.fingerprint)?.silenced_by ?? [];
  return state.silences.find((silence) => ids.includes(silence.id));
}

function renderAlerts() {
  const wanted = filters();
  const shown = state.alerts.filter((alert) =>
    (!wanted.district || alert.district === wanted.district) &&
    (!wanted.kind || alert.kind === wanted.kind) &&
    (!wanted.severity || alert.severity === wanted.severity));
  $("#alert-count").textContent = String(state.alerts.length);
  const body = $("#alerts tbody");
  body.replaceChildren(...shown.map((alert) => {
    const row = element("tr", null, "alert");
    row.dataset.fingerprint = alert.fingerprint;
    row.dataset.rule = alert.rule;
    row.append(
      element("td", alert.severity, `sev ${alert.severity}`),
      element("td", alert.rule),
      element("td", `${alert.district} ${where(alert)}`),
      element("td", time(alert.starts_at || alert.active_since)),
      element("td", alert.summary, "summary"),
    );
    const badges = element("td");
    badges.append(element("span", alert.state, "badge"));
    if (alert.acknowledged_by) badges.append(element("span", `ack ${alert.acknowledged_by}`, "badge acked"));
    const muted = silencedBy(alert);
    if (muted) badges.append(element("span", `silenced until ${time(muted.ends_at)}`, "badge silenced"));
    const incident = state.incidents?.incidentOf(alert.fingerprint);
    if (incident) {
      badges.append(button(`incident #${incident.id}`, "badge incident",
        () => state.incidents.choose(incident.id), `incident ${incident.id}: ${incident.title}`));
    }
    row.append(badges);
    const actions = element("td", null, "actions");
    if (alert.state === "firing" && !alert.acknowledged_by) {
      const ack = element("button", "Ack", "ack");
      ack.type = "button";
      ack.addEventListener("click", (event) => { event.stopPropagation(); acknowledge(alert); });
      actions.append(ack);
    }
    const mute = element("button", "Silence", "silence");
    mute.type = "button";
    mute.addEventListener("click", (event) => { event.stopPropagation(); silence(alert); });
    actions.append(mute);
    row.append(actions);
    row.addEventListener("click", () => chartFor(alert));
    return row;
  }));
  $("#no-alerts").hidden = shown.length > 0 || state.tab !== "active";
  state.map?.colour(state.presence?.devices ?? {}, alerting());
}

function alerting() {
  return new Set(state.alerts.filter((a) => a.state === "firing").map((a) => a.labels.device).filter(Boolean));
}

async function refreshSilences() {
  // silences live in Alertmanager; which alerts each mutes is Alertmanager's verdict
  const [silences, verdicts] = await Promise.all([call("/silences"), call("/silences/verdicts")]);
  state.silences = silences;
  state.verdicts = new Map(verdicts.map((verdict) => [verdict.fingerprint, verdict]));
  renderAlerts();
}

async function renderHistory() {
  const changes = await call("/alerts/history" + query({ ...filters(), limit: 200 }));
  $("#history tbody").replaceChildren(...changes.map((change) => {
    const row = element("tr");
    row.append(
      element("td", time(change.at)), element("td", change.change),
      element("td", change.severity, `sev ${change.severity}`),
      element("td", change.rule), element("td", `${change.district} ${where(change)}`),
      element("td", change.summary, "summary"),
    );
    return row;
  }));
}

function showTab(tab) {
  state.tab = tab;
  for (const button of document.querySelectorAll(".tabs button")) {
    button.setAttribute("aria-selected", String(button.dataset.tab === tab));
  }
  $("#alerts").hidden = tab !== "active";
  $("#history").hidden = tab !== "history";
  renderAlerts();
  if (tab === "history") renderHistory().catch(failed);
}
for (const button of document.querySelectorAll(".tabs button")) {
  button.addEventListener("click", () => showTab(button.dataset.tab));
}
for (const id of ["#f-district", "#f-kind", "#f-severity"]) {
  $(id).addEventListener("change", () => state.tab === "history" ? renderHistory().catch(failed) : renderAlerts());
}

async function acknowledge(alert) {
  $("#ack-what").textContent = `${alert.rule} · ${alert.district} ${where(alert)} — ${alert.summary}`;
  $("#ack-comment").value = "";
  if (!(await ask($("#ack-dialog")))) return;
  try {
    await call(`/alerts/${encodeURIComponent(alert.fingerprint)}/ack`, {
      method: "POST", body: { comment: $("#ack-comment").value },
    });
    toast(`Acknowledged ${alert.rule}; the engine announces it on its next tick.`);
  } catch (error) { failed(error); }
}

async function silence(alert) {
  // the labels the alert carries in Alertmanager, where the silence will match them
  if (!state.verdicts.has(alert.fingerprint)) await refreshSilences().catch(failed);
  const labels = state.verdicts.get(alert.fingerprint)?.labels
    ?? { alertname: alert.rule, district: alert.district, kind: alert.kind };
  const box = $("#silence-matchers");
  box.replaceChildren(element("legend", "Match"));
  for (const [name, value] of Object.entries(labels)) {
    const label = element("label");
    const tick = element("input");
    tick.type = "checkbox";
    tick.name = name;
    tick.value = value;
    tick.checked = name === "alertname" || name === "device_id"
      || (!labels.device_id && !["team", "severity", "kind"].includes(name));
    label.append(tick, ` ${name} = ${value}`);
    box.append(label);
  }
  $("#silence-comment").value = "";
  if (!(await ask($("#silence-dialog")))) return;
  const matchers = [...box.querySelectorAll("input:checked")]
    .map((tick) => ({ name: tick.name, value: tick.value }));
  try {
    const made = await call("/silences", {
      method: "POST",
      body: { matchers, duration_s: Number($("#silence-duration").value), comment: $("#silence-comment").value },
    });
    toast(`Silenced until ${time(made.ends_at)}.`);
    await refreshSilences();
    // which alerts a silence mutes is Alertmanager's verdict, which may lag a moment behind
    for (const wait_ms of [1000, 3000]) setTimeout(() => refreshSilences().catch(() => {}), wait_ms);
  } catch (error) { failed(error); }
}

// --- presence and the map ------------------------------------------------------------------

function renderPresence(presence) {
  state.presence = presence;
  $("#presence tbody").replaceChildren(...Object.entries(presence.districts).map(([name, row]) => {
    const tr = element("tr");
    tr.dataset.district = name;
    const meter = element("div", null, "meter");
    const fill = element("span");
    fill.style.width = `${row.devices ? (100 * row.online) / row.devices : 0}%`;
    meter.append(fill);
    const cell = element("td");
    cell.append(meter);
    tr.append(element("td", name), element("td", `${row.online}/${row.devices}`, "online"),
      element("td", row.offline), element("td", row.unknown), cell);
    return tr;
  }));
  state.map?.colour(presence.devices, alerting());
}

// --- charts --------------------------------------------------------------------------------

const GROUP_OF = { cabinet: "cabinet", junction: "junction", station: null };

function keysFor(series) {
  if (series.key === "station") {
    return state.devices.filter((d) => d.kind === "water_quality").map((d) => d.id);
  }
  const group = GROUP_OF[series.key];
  return [...new Set(state.devices.map((d) => d.group[group]).filter(Boolean))].sort();
}

async function loadSeriesList() {
  let catalogue;
  try { catalogue = await call("/series"); } catch (error) {
    if (error instanceof Unauthorized) throw error;
    $("#chart-source").textContent = "charts need InfluxDB";
    return;
  }
  state.catalogue = catalogue;
  $("#series").replaceChildren(...catalogue.map((series) => {
    const option = element("option", series.title);
    option.value = series.name;
    return option;
  }));
  fillKeys();
}

function fillKeys(preferred) {
  const series = state.catalogue?.find((s) => s.name === $("#series").value);
  if (!series) return;
  const keys = keysFor(series);
  $("#series-key").replaceChildren(...keys.map((key) => {
    const option = element("option", key);
    option.value = key;
    return option;
  }));
  if (preferred && keys.includes(preferred)) $("#series-key").value = preferred;
  $("#chart-source").textContent = `query of Grafana's ${series.source}`;
  loadChart();
}

async function loadChart() {
  const name = $("#series").value;
  const key = $("#series-key").value;
  if (!name || !key) return;
  const chart = $("#chart");
  chart.dataset.loading = "true";
  try {
    const answer = await call(`/series/${encodeURIComponent(name)}` + query({ key, range_s: $("#range").value }));
    const empty = !answer.lines.some((line) => line.values.some((v) => v !== null));
    $("#chart-empty").hidden = !empty;
    drawChart(chart, answer);
  } catch (error) { failed(error); } finally { delete chart.dataset.loading; }
}

function chartFor(alert) {
  const labels = alert.labels;
  const choice = labels.cabinet ? ["cabinet-power", labels.cabinet]
    : labels.junction ? ["junction-queue", labels.junction]
    : alert.kind === "water_quality" && labels.device ? ["station-ammonia_mg_l", labels.device] : null;
  if (!choice || !state.catalogue?.some((s) => s.name === choice[0])) return;
  $("#series").value = choice[0];
  fillKeys(choice[1]);
}

$("#series").addEventListener("change", () => fillKeys());
$("#series-key").addEventListener("change", loadChart);
$("#range").addEventListener("change", loadChart);

// --- the two views: alerts (with presence and charts) and incidents; the map stays -----------

function showView(view) {
  const changed = $("#app").dataset.view !== view;
  $("#app").dataset.view = view;
  const selected = state.incidents?.selected;
  history.replaceState(null, "", view === "alerts" ? location.pathname
    : selected ? `#incident=${selected.id}` : "#incidents");
  for (const tab of document.querySelectorAll(".views button")) {
    tab.setAttribute("aria-selected", String(tab.dataset.view === view));
  }
  state.map?.resize(changed);
}
for (const tab of document.querySelectorAll(".views button")) {
  tab.addEventListener("click", () => showView(tab.dataset.view));
}
// an incident picked on the map from the alerts view brings its view up
document.addEventListener("smartcity:view", (event) => showView(event.detail));

// --- live updates --------------------------------------------------------------------------

async function openStream() {
  state.stream?.close();
  let ticket;
  try {
    ({ ticket } = await call("/events/ticket", { method: "POST" }));
  } catch (error) {
    if (!(error instanceof Unauthorized)) setTimeout(openStream, 3000);
    return;
  }
  // EventSource cannot send a bearer token: a one-use ticket from the call above opens it
  const stream = new EventSource(`/events?ticket=${encodeURIComponent(ticket)}`);
  state.stream = stream;
  stream.addEventListener("open", () => {
    $("#live").className = "live on";
    $("#live").textContent = "live";
    state.incidents?.reload().catch(() => {});  // whatever changed while the stream was away
  });
  stream.addEventListener("alerts", (event) => {
    state.alerts = JSON.parse(event.data);
    renderAlerts();
    refreshSilences().catch(() => {});
    if (state.tab === "history") renderHistory().catch(() => {});
  });
  stream.addEventListener("presence", (event) => renderPresence(JSON.parse(event.data)));
  stream.addEventListener("incident", (event) => state.incidents?.changed(JSON.parse(event.data)));
  stream.addEventListener("expired", () => { stream.close(); token.clear(); showLogin("The token was revoked."); });
  stream.addEventListener("error", () => {
    // the ticket was for one stream: get a new one rather than let EventSource retry with it
    stream.close();
    $("#live").className = "live off";
    $("#live").textContent = "reconnecting";
    if (state.stream === stream && token.get()) setTimeout(openStream, 2000);
  });
}

// --- start ---------------------------------------------------------------------------------

async function start() {
  if (!token.get()) { showLogin(); return; }
  try {
    const [city, devices] = await Promise.all([call("/city/map"), call("/devices" + query({ limit: 10000 }))]);
    state.devices = devices.devices;
    $("#login").hidden = true;
    $("#app").hidden = false;
    $("#city").textContent = city.city.name;
    $("#who").textContent = "";
    const districts = [...new Set(city.devices.map((d) => d.district))].sort();
    $("#f-district").replaceChildren(element("option", "all districts"), ...districts.map((name) => {
      const option = element("option", name);
      option.value = name;
      return option;
    }));
    $("#f-district").options[0].value = "";
    if (!state.map) {
      state.map = new CityMap($("#map"));
      state.map.draw(city);
      state.incidents = new IncidentView(state.map);
      state.incidents.onAlerts = renderAlerts;
    }
    state.map.resize();
    renderPresence(await call("/city/presence"));
    await state.incidents.reload().catch(failed);
    // a reload keeps the view: #incidents, or #incident=3 for one incident
    const asked = /^#incident=(\d+)$/.exec(location.hash);
    if (asked) state.incidents.choose(Number(asked[1]));
    else if (location.hash === "#incidents") showView("incidents");
    await openStream();
    await loadSeriesList();
  } catch (error) { failed(error); }
}

window.addEventListener("resize", () => state.map?.resize());
// silences are Alertmanager's and not in the event stream: look again now and then
setInterval(() => { if (!$("#app").hidden) refreshSilences().catch(() => {}); }, 15000);
start();
