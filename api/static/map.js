// The map: Leaflet with no tile layer at all. District outlines (approximate, GeoJSON from the
// API) and one circle per device, coloured by presence, ringed when it has an active alert;
// incidents on top as numbered diamonds (a spill's course downstream drawn for the selected one).
const COLOURS = { online: "#2b9348", offline: "#d62828", unknown: "#9aa5b1" };

export class CityMap {
  constructor(element) {
    this.map = L.map(element, { zoomControl: true, attributionControl: false, preferCanvas: true });
    this.markers = new Map();
    this.places = new Map();  // device id -> [lat, lon]
    this.centres = new Map();  // district -> [lat, lon]
    this.incidentLayer = L.layerGroup().addTo(this.map);
  }

  draw(city) {
    // Leaflet places nothing before the map has a view: fit the outlines first, then draw
    const bounds = L.geoJSON(city.districts).getBounds();
    this.whole = bounds.isValid() ? bounds : L.latLng(city.city.latitude, city.city.longitude).toBounds(20000);
    this.map.fitBounds(this.whole, { padding: [10, 10] });
    L.geoJSON(city.districts, {
      renderer: L.svg(),  // a handful of outlines as SVG; thousands of devices on the canvas
      style: { color: "#1d3557", weight: 1.5, fillColor: "#a8dadc", fillOpacity: 0.25, dashArray: "4 3" },
      onEachFeature: (feature, layer) => layer.bindTooltip(
        `${feature.properties.district} (approximate outline)`, { sticky: true }),
    }).addTo(this.map);
    for (const feature of city.districts.features) {
      const centre = L.geoJSON(feature).getBounds().getCenter();
      this.centres.set(feature.properties.district, [centre.lat, centre.lng]);
      L.tooltip({ permanent: true, direction: "center", className: "district-label" })
        .setLatLng(centre).setContent(feature.properties.district).addTo(this.map);
    }
    for (const device of city.devices) {
      const marker = L.circleMarker([device.latitude, device.longitude], {
        radius: 5, weight: 1, color: "#fff", fillColor: COLOURS.unknown, fillOpacity: 0.9,
      }).bindTooltip(`${device.id} · ${device.kind} · ${device.district}` +
        (device.approximate ? " (approximate place)" : ""));
      marker.addTo(this.map);
      this.markers.set(device.id, marker);
      this.places.set(device.id, [device.latitude, device.longitude]);
    }
  }

  colour(states, alerting) {
    for (const [id, marker] of this.markers) {
      const online = states[id];
      const state = online === true ? "online" : online === false ? "offline" : "unknown";
      const hot = alerting.has(id);
      marker.setStyle({
        fillColor: COLOURS[state], color: hot ? "#e07a00" : "#fff", weight: hot ? 3 : 1,
        radius: hot ? 7 : 5,
      });
    }
    const counts = { online: 0, offline: 0, unknown: 0 };
    for (const id of this.markers.keys()) {
      const online = states[id];
      counts[online === true ? "online" : online === false ? "offline" : "unknown"] += 1;
    }
    // what is drawn, for a reader of the page's state (and the browser tests)
    const element = this.map.getContainer();
    for (const [state, count] of Object.entries(counts)) element.dataset[state] = String(count);
    element.dataset.alerting = String(alerting.size);
  }

  // Every incident as a diamond with its number, coloured by severity; the selected one larger
  // with, for a spill, its course downstream (first station, then each station expected).
  // An incident without a place of its own sits at its district's middle, marked approximate.
  incidents(incidents, selected, onSelect) {
    this.incidentLayer.clearLayers();
    for (const incident of incidents) {
      const own = incident.latitude !== null && incident.longitude !== null;
      const where = own ? [incident.latitude, incident.longitude] : this.centres.get(incident.district);
      if (!where) continue;
      const chosen = selected?.id === incident.id;
      const name = `incident ${incident.id}: ${incident.title}` + (own ? "" : " (approximate place)");
      const marker = L.marker(where, {
        icon: L.divIcon({
          className: `incident-marker sev-${incident.severity}${chosen ? " selected" : ""}`,
          html: `<span>${incident.id}</span>`, iconSize: chosen ? [30, 30] : [24, 24],
        }),
        title: name, keyboard: true, zIndexOffset: chosen ? 2000 : 1000,
      }).on("click", () => onSelect(incident.id));
      marker.addTo(this.incidentLayer);
      const icon = marker.getElement();
      icon.dataset.incident = String(incident.id);
      icon.setAttribute("aria-label", name);
    }
    const course = selected?.forecast;
    if (course) {
      const points = [course.origin, ...course.waypoints.map((w) => w.name)]
        .map((name) => this.places.get(name)).filter(Boolean);
      if (points.length > 1) {
        L.polyline(points, { color: "#2a6f97", weight: 4, opacity: 0.7, dashArray: "8 6", interactive: false })
          .addTo(this.incidentLayer);
      }
    }
    this.map.getContainer().dataset.incidents = String(incidents.length);
  }

  // the incident and, for a spill, the stations it goes to next, in view
  focus(incident) {
    const points = [];
    if (incident.latitude !== null && incident.longitude !== null) points.push([incident.latitude, incident.longitude]);
    for (const place of incident.forecast?.waypoints ?? []) {
      if (this.places.has(place.name)) points.push(this.places.get(place.name));
    }
    if (points.length) this.map.fitBounds(L.latLngBounds(points).pad(0.25), { maxZoom: 14 });
  }

  // the panel changed size; `whole`: show the whole city again (the views' panels differ)
  resize(whole = false) {
    this.map.invalidateSize({ animate: false });
    if (whole && this.whole) this.map.fitBounds(this.whole, { padding: [10, 10], animate: false });
  }
}
