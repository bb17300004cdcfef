// The city map: every camera the user may see, clustered, coloured by health, filtered by zone,
// kind and health, with zone outlines; vehicle cameras move and health changes as camera.status
// events arrive; a camera flashes when an alert is raised there. Works without internet tiles
// (control rooms are often offline): with no tile URL configured the map is a plain background
// and markers, clusters, outlines and popups still work.
//
// Camera and zone names are user-supplied. Leaflet sets a string popup, tooltip or divIcon's
// html as markup, so everything shown here is a DOM node built with textContent.
import L from "./leaflet.js";
import { liveEvents } from "./events.js";
import { relativeTime } from "./audit.js";
import {
  HEALTH_LABELS,
  cameraFacts,
  cameraFilter,
  formatCount,
  healthSummary,
  healthTitle,
  normaliseHealth,
  statusText,
} from "./map-model.js";

const PUNE = [18.5204, 73.8567];
const CITY_BOUNDS = [
  [18.3, 73.6],
  [18.85, 74.15],
];
const FLASH_MS = 8000;
// --- DOM ------------------------------------------------------------------------------------

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

async function getJson(url) {
  const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return response.json();
}

// Every page of a paginated list (or a plain list).
async function getAll(url) {
  const items = [];
  let next = url;
  while (next) {
    const body = await getJson(next);
    if (Array.isArray(body)) return body;
    items.push(...(body.results ?? []));
    next = body.next ?? null;
  }
  return items;
}

function cameraIcon(camera) {
  const health = normaliseHealth(camera.health);
  return L.divIcon({
    className: `camera-marker health-${health} kind-${camera.kind}${camera.enabled === false ? " disabled" : ""}`,
    html: "",
    iconSize: [14, 14],
  });
}

function clusterIcon(cluster) {
  const markers = cluster.getAllChildMarkers();
  const { counts, worst } = healthSummary(markers.map((marker) => marker.camera.health));
  const total = markers.length;
  const size = total < 10 ? "small" : total < 100 ? "medium" : total < 1000 ? "large" : "huge";
  const label = element("span", formatCount(total), "cluster-count");
  label.dataset.count = String(total);
  label.title = healthTitle(total, counts);
  return L.divIcon({
    html: label,
    className: `marker-cluster marker-cluster-${size} camera-cluster cluster-${worst}`,
    iconSize: size === "huge" ? L.point(54, 54) : L.point(40, 40),
  });
}

class CityMap {
  constructor(root) {
    this.root = root;
    this.status = document.getElementById("map-status");
    this.form = document.getElementById("map-filters");
    this.markers = new Map(); // camera id -> marker (marker.camera holds its properties)
    this.alertsByCamera = new Map();
    this.flashes = 0;
    this.moves = 0;
    this.map = L.map(root, {
      center: PUNE,
      zoom: 12,
      zoomSnap: 0.25, // fit the cameras snugly (whole zoom steps leave half the screen empty)
      minZoom: 10,
      maxZoom: 19,
      maxBounds: CITY_BOUNDS,
      attributionControl: false,
      preferCanvas: false,
    });
    const tileUrl = root.dataset.tileUrl;
    if (tileUrl) {
      L.control.attribution({ prefix: false }).addTo(this.map);
      const attribution = element("span", root.dataset.tileAttribution || "").innerHTML; // text, escaped
      L.tileLayer(tileUrl, { maxZoom: 19, attribution }).addTo(this.map);
      root.dataset.tiles = "on";
    } else {
      root.dataset.tiles = "off";
    }
    this.zoneLayer = L.layerGroup().addTo(this.map);
    this.flashLayer = L.layerGroup().addTo(this.map);
    this.cluster = L.markerClusterGroup({
      iconCreateFunction: clusterIcon,
      showCoverageOnHover: false,
      spiderfyOnMaxZoom: true,
      maxClusterRadius: 60,
    });
    this.cluster.on("animationend", () => this.countVisible());
    this.map.on("moveend zoomend", () => this.countVisible());
    this.map.addLayer(this.cluster);
  }

  async start() {
    this.say("Loading cameras…", "loading");
    const [cameras, zones] = await Promise.allSettled([
      getJson(this.root.dataset.camerasUrl),
      getAll(this.root.dataset.zonesUrl),
    ]);
    if (zones.status === "fulfilled") this.drawZones(zones.value);
    if (cameras.status === "rejected") {
      this.say("Could not load the cameras. Reload the page to try again.", "error");
      this.root.dataset.error = "cameras";
      return;
    }
    this.loadCameras(cameras.value.features ?? []);
    this.fillZoneFilter(zones.status === "fulfilled" ? zones.value : []);
    this.form?.addEventListener("change", () => this.applyFilter({ fit: true }));
    this.form?.addEventListener("submit", (event) => event.preventDefault());
    this.applyFilter({ fit: true });
    this.listen();
  }

  say(text, state) {
    if (!this.status) return;
    this.status.textContent = text;
    this.status.dataset.state = state;
  }

  drawZones(zones) {
    this.zoneLayer.clearLayers();
    for (const zone of zones) {
      if (!zone.boundary) {
        // No outline known yet: the zone's centre, so the station's area is still findable.
        if (typeof zone.centre_lat === "number" && typeof zone.centre_lon === "number") {
          L.circleMarker([zone.centre_lat, zone.centre_lon], { radius: 6, className: "zone-centre", color: "#1d4ed8", weight: 2, fillOpacity: 0.3 })
            .bindTooltip(element("span", zone.name), { className: "zone-tooltip" })
            .addTo(this.zoneLayer);
        }
        continue;
      }
      try {
        const outline = L.geoJSON(zone.boundary, {
          style: { className: "zone-outline", color: "#1d4ed8", weight: 2, opacity: 0.7, fill: true, fillOpacity: 0.04 },
          interactive: true,
          bubblingMouseEvents: true,
        });
        outline.bindTooltip(element("span", zone.name), { sticky: true, className: "zone-tooltip" });
        outline.addTo(this.zoneLayer);
      } catch {
        // A malformed outline is skipped; the zone's cameras are still shown.
      }
    }
    this.root.dataset.zones = String(this.zoneLayer.getLayers().length);
  }

  loadCameras(features) {
    for (const feature of features) {
      const [lon, lat] = feature.geometry?.coordinates ?? [];
      if (typeof lat !== "number" || typeof lon !== "number") continue;
      const camera = { ...feature.properties };
      const marker = L.marker([lat, lon], { icon: cameraIcon(camera), title: camera.name, alt: camera.name, keyboard: true });
      marker.camera = camera;
      marker.bindPopup(() => this.popup(marker.camera), { maxWidth: 320 });
      this.markers.set(camera.id, marker);
    }
    this.root.dataset.total = String(this.markers.size);
  }

  fillZoneFilter(zones) {
    const select = this.form?.elements.zone;
    if (!select) return;
    // Every zone the user may see (with how many cameras it holds), and any zone a camera names
    // that the zone list did not (named as the camera names it).
    const names = new Map(zones.map((zone) => [String(zone.id), zone.name]));
    const counts = new Map(zones.map((zone) => [String(zone.id), 0]));
    for (const { camera } of this.markers.values()) {
      const key = String(camera.zone_id);
      counts.set(key, (counts.get(key) ?? 0) + 1);
      if (!names.has(key)) names.set(key, camera.zone_name ?? key);
    }
    const options = [...counts.keys()].sort((a, b) => names.get(a).localeCompare(names.get(b)));
    for (const key of options) {
      const option = element("option", `${names.get(key)} (${formatCount(counts.get(key))})`);
      option.value = key;
      select.appendChild(option);
    }
  }

  filterValues() {
    const data = this.form ? new FormData(this.form) : new FormData();
    return {
      zone: String(data.get("zone") ?? ""),
      kind: String(data.get("kind") ?? ""),
      health: String(data.get("health") ?? ""),
    };
  }

  applyFilter({ fit }) {
    const keep = cameraFilter(this.filterValues());
    const shown = [...this.markers.values()].filter((marker) => keep(marker.camera));
    this.cluster.clearLayers();
    this.cluster.addLayers(shown);
    this.shown = shown.length;
    this.root.dataset.shown = String(shown.length);
    this.say(statusText(shown.length, this.markers.size), "ready");
    if (fit && shown.length) {
      this.map.fitBounds(L.latLngBounds(shown.map((marker) => marker.getLatLng())), { padding: [30, 30], maxZoom: 16, animate: false });
    }
    this.countVisible();
  }

  // What is drawn now: clusters and single markers in view, and the cameras they stand for.
  // Tests read these to check that the clusters add up.
  countVisible() {
    const bounds = this.map.getBounds();
    const clusters = new Set();
    let singles = 0;
    let represented = 0;
    for (const marker of this.cluster.getLayers()) {
      if (!bounds.contains(marker.getLatLng())) continue;
      const parent = this.cluster.getVisibleParent(marker);
      if (parent === marker) {
        singles += 1;
        represented += 1;
      } else if (parent && !clusters.has(parent)) {
        clusters.add(parent);
        represented += parent.getChildCount();
      }
    }
    this.root.dataset.clusters = String(clusters.size);
    this.root.dataset.singles = String(singles);
    this.root.dataset.represented = String(represented);
  }

  popup(camera) {
    const box = element("div", null, "camera-popup");
    box.dataset.cameraId = String(camera.id);
    box.appendChild(element("h3", camera.name));
    const health = element("span", HEALTH_LABELS[normaliseHealth(camera.health)], `health-badge health-${normaliseHealth(camera.health)}`);
    box.appendChild(health);
    const facts = element("dl", null, "popup-facts");
    for (const [label, value] of cameraFacts(camera)) {
      facts.appendChild(element("dt", label));
      facts.appendChild(element("dd", value));
    }
    box.appendChild(facts);
    const alerts = this.alertsByCamera.get(camera.id) ?? [];
    box.appendChild(element("h4", alerts.length ? "Recent alerts here" : "No open alerts here"));
    if (alerts.length) {
      const list = element("ul", null, "popup-alerts");
      for (const alert of alerts.slice(0, 5)) {
        const seen = new Date(alert.last_seen_at || alert.first_seen_at);
        const when = Number.isNaN(seen.getTime()) ? "" : ` · ${relativeTime(seen)}`;
        list.appendChild(element("li", `${alert.subject_name} (${alert.watchlist_name}, P${alert.priority})${when}`));
      }
      box.appendChild(list);
    }
    return box;
  }

  listen() {
    const events = liveEvents();
    events.on("camera.status", (message) => this.cameraStatus(message.camera));
    events.on("alert.created", (message) => this.flash(message.alert));
    events.on("alert.updated", (message) => {
      if (message.alert.status === "escalated") this.flash(message.alert);
    });
    // The alert panel tells the map what it knows, and asks it to show a camera.
    document.addEventListener("fr:alerts", (event) => this.rememberAlerts(event.detail ?? []));
    document.addEventListener("fr:show-camera", (event) => this.showCamera(event.detail));
  }

  rememberAlerts(alerts) {
    this.alertsByCamera = new Map();
    for (const alert of alerts) {
      if (!this.alertsByCamera.has(alert.camera_id)) this.alertsByCamera.set(alert.camera_id, []);
      this.alertsByCamera.get(alert.camera_id).push(alert);
    }
  }

  cameraStatus(update) {
    const marker = this.markers.get(update.id);
    if (!marker) return; // not a camera this user sees (or not loaded yet)
    const camera = marker.camera;
    const before = normaliseHealth(camera.health);
    for (const key of ["health", "last_frame_at", "achieved_fps", "last_error"]) {
      if (key in update) camera[key] = update[key];
    }
    const inGroup = this.cluster.hasLayer(marker);
    const moved =
      typeof update.latitude === "number" &&
      typeof update.longitude === "number" &&
      !marker.getLatLng().equals([update.latitude, update.longitude]);
    if (moved) {
      // A marker moved inside a cluster group must leave and rejoin it to be re-clustered.
      if (inGroup) this.cluster.removeLayer(marker);
      marker.setLatLng([update.latitude, update.longitude]);
      if (inGroup) this.cluster.addLayer(marker);
      this.moves += 1;
      this.root.dataset.moves = String(this.moves);
    }
    if (normaliseHealth(camera.health) !== before) {
      marker.setIcon(cameraIcon(camera));
      if (inGroup) this.cluster.refreshClusters(marker);
      if (!cameraFilter(this.filterValues())(camera) || !inGroup) this.applyFilter({ fit: false });
    }
    if (marker.isPopupOpen()) marker.setPopupContent(this.popup(camera));
  }

  // A ring pulses where the alert was raised, and the camera (or the cluster holding it) blinks.
  flash(alert) {
    const marker = this.markers.get(alert.camera_id);
    const where =
      typeof alert.latitude === "number" && typeof alert.longitude === "number"
        ? [alert.latitude, alert.longitude]
        : marker?.getLatLng();
    if (!where) return;
    const ring = L.circleMarker(where, { radius: 22, className: "alert-ring", interactive: false });
    ring.addTo(this.flashLayer);
    window.setTimeout(() => this.flashLayer.removeLayer(ring), FLASH_MS);
    const shown = marker && this.cluster.hasLayer(marker) ? this.cluster.getVisibleParent(marker) : null;
    const icon = shown?.getElement?.();
    if (icon) {
      icon.classList.add("flash");
      window.setTimeout(() => icon.classList.remove("flash"), FLASH_MS);
    }
    this.flashes += 1;
    this.root.dataset.flashes = String(this.flashes);
    this.root.dataset.lastFlashCamera = String(alert.camera_id);
  }

  showCamera(detail) {
    const marker = detail && this.markers.get(detail.camera_id);
    if (marker && this.cluster.hasLayer(marker)) {
      this.cluster.zoomToShowLayer(marker, () => marker.openPopup());
    } else if (detail && typeof detail.latitude === "number") {
      this.map.setView([detail.latitude, detail.longitude], 16);
    }
    this.root.scrollIntoView({ block: "nearest" });
  }
}

export function initCityMap() {
  const root = document.getElementById("city-map");
  if (!root) return null;
  const city = new CityMap(root);
  city.start().catch(() => city.say("The map could not start. Reload the page to try again.", "error"));
  return city;
}

initCityMap();
