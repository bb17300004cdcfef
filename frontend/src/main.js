// Dashboard entry: the city map. Works without internet tiles (control rooms are often offline):
// with no tile URL configured the map shows markers and zones on a plain background.
import L from "leaflet";
import "leaflet/dist/leaflet.css";
import "./style.css";
import { connectLiveFeed } from "./livefeed.js";
// Page modules: each one starts only on the page that holds its root element.
import "./audit.js";
import "./watchlists.js";

const PUNE = [18.5204, 73.8567];

function zoneMarker(zone) {
  return L.circleMarker([zone.centre_lat, zone.centre_lon], {
    radius: 9, color: "#1d4ed8", weight: 2, fillColor: "#60a5fa", fillOpacity: 0.7,
  }).bindPopup(`<strong>${escapeHtml(zone.name)}</strong><br>${escapeHtml(zone.station_name || "")}`);
}

function escapeHtml(text) {
  const div = document.createElement("div");
  div.textContent = text;
  return div.innerHTML;
}

async function loadZones(url) {
  const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`zones: HTTP ${response.status}`);
  const body = await response.json();
  return body.results ?? body;
}

async function initMap() {
  const element = document.getElementById("city-map");
  if (!element) return;
  const map = L.map(element).setView(PUNE, 12);
  const tileUrl = element.dataset.tileUrl;
  if (tileUrl) L.tileLayer(tileUrl, { maxZoom: 19 }).addTo(map);
  const list = document.getElementById("zone-list");
  try {
    const zones = await loadZones(element.dataset.zonesUrl);
    for (const zone of zones) {
      zoneMarker(zone).addTo(map);
      const item = document.createElement("li");
      item.textContent = zone.name;
      item.addEventListener("click", () => map.setView([zone.centre_lat, zone.centre_lon], 14));
      list?.appendChild(item);
    }
    element.dataset.loaded = String(zones.length);
  } catch (error) {
    element.dataset.error = "zones";
    if (list) list.innerHTML = `<li class="error">Could not load zones (${escapeHtml(error.message)}).</li>`;
  }
}

function initLiveFeed() {
  const badge = document.getElementById("live-feed");
  if (!badge) return;
  connectLiveFeed({
    onState(state) {
      badge.dataset.state = state;
      badge.textContent = state === "connected" ? "Live feed: connected" : "Live feed: down, reconnecting…";
    },
    onMessage(message) {
      if (message.type === "status") badge.title = message.failing?.length ? `Failing: ${message.failing.join(", ")}` : "";
    },
  });
}

initMap();
initLiveFeed();
