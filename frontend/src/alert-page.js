// The alert page (/alerts/<id>/): an officer opens it from a link, on a phone or at the control
// room. It fetches the alert from the API and draws the status, the two-person rule, the buttons
// the role and the alert's state allow (the API decides; its refusal is shown), the adjudication
// history, the images after a purpose (audited reads), the subject's sighting trail on a small
// Leaflet map and as a list, and the evidence export. Names are user-supplied: text only.
import L from "./leaflet.js";
import { formatTime, relativeTime } from "./audit.js";
import { imageUrls, scoreText, statusLabel } from "./alerts.js";
import { liveEvents } from "./events.js";
import { api, auditedImage, auditedRead } from "./watchlists.js";
import {
  actionLabel,
  actionsFor,
  filenameFrom,
  historyText,
  peopleText,
  purposeProblem,
  REASON_REQUIRED,
  trailPoints,
  trailSummary,
  twoPersonText,
} from "./alert-model.js";

const TRAIL_PAGE = 500;
const TRAIL_MAX = 2000;
const RELATIVE_REFRESH_MS = 30000;

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function say(node, text, kind = "ok") {
  if (!node) return;
  node.textContent = text;
  node.dataset.kind = kind;
}

function timeNode(iso) {
  const date = new Date(iso);
  const wrap = element("span", null, "when");
  if (Number.isNaN(date.getTime())) return wrap;
  const time = element("time", formatTime(date));
  time.dateTime = date.toISOString();
  wrap.appendChild(time);
  wrap.appendChild(document.createTextNode(" "));
  const relative = element("span", relativeTime(date), "muted relative");
  relative.dataset.relativeOf = date.toISOString();
  wrap.appendChild(relative);
  return wrap;
}

class AlertPage {
  constructor(root) {
    this.root = root;
    this.alertId = Number(root.dataset.alert);
    this.apiUrl = root.dataset.api;
    this.me = root.dataset.me;
    this.roleActions = (root.dataset.actions || "").split(" ").filter(Boolean);
    this.actionsBox = root.querySelector("[data-testid=alert-actions]");
    this.result = root.querySelector("[data-testid=action-result]");
    this.reason = root.querySelector("[data-testid=reason]");
    this.alert = null;
  }

  async start() {
    this.refreshTimes();
    setInterval(() => this.refreshTimes(), RELATIVE_REFRESH_MS);
    this.initImages();
    this.initEvidence();
    try {
      this.render(await api(this.apiUrl));
    } catch (error) {
      say(this.root.querySelector("[data-testid=two-person]"), error.message, "error");
    }
    this.loadTrail();
    this.follow();
  }

  // Another officer's action shows here without a reload (and after the feed was down).
  follow() {
    const events = liveEvents();
    const reload = async () => {
      if (this.busy) return;
      try {
        this.render(await api(this.apiUrl));
      } catch {
        // keep what is shown; the next event or action tries again
      }
    };
    events.on("alert.updated", (message) => {
      if (Number(message.alert?.id) === this.alertId) reload();
    });
    events.onState((state, info) => {
      if (state === "connected" && info.reconnected) reload();
    });
  }

  render(alert) {
    this.alert = alert;
    this.root.dataset.status = alert.status;
    const status = this.root.querySelector("[data-testid=alert-status]");
    status.textContent = statusLabel(alert.status);
    status.className = `alert-status status-${alert.status}`;
    this.root.querySelector("[data-testid=two-person]").textContent = twoPersonText(alert, this.me);
    this.root.querySelector("[data-testid=alert-people]").textContent = peopleText(alert);
    const score = this.root.querySelector("[data-testid=alert-score]");
    if (score) score.title = scoreText(alert.best_score, alert.threshold);
    const count = this.root.querySelector("[data-testid=sightings-count]");
    if (count) count.textContent = alert.sightings_count === 1 ? "1 sighting" : `${alert.sightings_count} sightings`;
    this.renderActions(alert);
    this.renderHistory(alert.adjudications ?? []);
  }

  renderActions(alert) {
    const buttons = this.actionsBox.querySelector(".action-buttons");
    buttons.replaceChildren();
    const verbs = actionsFor(alert, this.roleActions);
    for (const verb of verbs) {
      const control = element("button", actionLabel(verb), `action-${verb}${verb === "confirm" || verb === "verify" ? " primary" : ""}`);
      control.type = "button";
      control.dataset.action = verb;
      control.addEventListener("click", () => this.act(verb));
      buttons.appendChild(control);
    }
    const needsReason = verbs.some((verb) => REASON_REQUIRED.has(verb));
    this.reason.closest("label").hidden = !needsReason;
    this.actionsBox.hidden = verbs.length === 0;
  }

  async act(verb) {
    const controls = [...this.actionsBox.querySelectorAll("button")];
    for (const control of controls) control.disabled = true;
    this.busy = true;
    say(this.result, "Sending…");
    try {
      const updated = await api(`${this.apiUrl}${verb}/`, { method: "POST", json: { reason: this.reason.value } });
      this.reason.value = "";
      this.render(updated);
      say(this.result, `Done: ${statusLabel(updated.status).toLowerCase()}.`);
    } catch (error) {
      // The API's sentence (two-person rule, reason required, claimed by another, …).
      say(this.result, error.message, "error");
      try {
        this.render(await api(this.apiUrl)); // the state may have moved on meanwhile
      } catch {
        // keep what is shown
      }
    } finally {
      this.busy = false;
      for (const control of this.actionsBox.querySelectorAll("button")) control.disabled = false;
    }
  }

  renderHistory(adjudications) {
    const list = this.root.querySelector("[data-testid=history]");
    list.replaceChildren();
    if (!adjudications.length) {
      list.appendChild(element("li", "Nobody has acted on this alert yet.", "empty"));
      return;
    }
    for (const adjudication of adjudications) {
      const item = element("li", null, `history-item action-${adjudication.action}`);
      item.dataset.action = adjudication.action;
      item.appendChild(timeNode(adjudication.created_at));
      item.appendChild(element("span", historyText(adjudication), "history-text"));
      list.appendChild(item);
    }
  }

  initImages() {
    const form = this.root.querySelector("#alert-images-form");
    if (!form) return;
    const out = this.root.querySelector("[data-testid=alert-images]");
    const result = form.querySelector(".result");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const purpose = form.elements.purpose.value;
      const problem = purposeProblem(purpose, "viewing");
      if (problem) return say(result, problem, "error");
      say(result, "");
      try {
        const detail = this.alert ?? (await api(this.apiUrl));
        const urls = imageUrls({ probeUrl: detail.probe_url, photoUrl: detail.matched_photo_url });
        out.replaceChildren(
          urls.probe ? this.figure(urls.probe, "Camera (probe crop)", purpose) : element("p", "The probe crop was purged.", "muted"),
          urls.photo ? this.figure(urls.photo, "Enrolled photo", purpose) : element("p", "No enrolled photo is linked.", "muted"),
        );
      } catch (error) {
        say(result, error.message, "error");
      }
    });
  }

  figure(url, caption, purpose) {
    const figure = element("figure");
    const image = element("img");
    image.alt = caption;
    const unavailable = () => image.replaceWith(element("p", "Not available (refused, purged or removed).", "error"));
    image.addEventListener("error", unavailable);
    auditedImage(image, url, purpose).catch(unavailable);
    figure.append(image, element("figcaption", caption));
    return figure;
  }

  initEvidence() {
    const form = this.root.querySelector("#evidence-form");
    if (!form) return;
    const result = form.querySelector(".result");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const purpose = form.elements.purpose.value;
      const problem = purposeProblem(purpose, "the export");
      if (problem) return say(result, problem, "error");
      const submit = form.querySelector("button");
      submit.disabled = true;
      say(result, "Preparing the file…");
      try {
        const response = await auditedRead(form.action, purpose);
        const blob = await response.blob();
        const link = element("a");
        link.href = URL.createObjectURL(blob);
        link.download = filenameFrom(response.headers.get("Content-Disposition"), `alert-${this.alertId}-evidence.zip`);
        document.body.appendChild(link);
        link.click();
        link.remove();
        setTimeout(() => URL.revokeObjectURL(link.href), 60000);
        say(result, `Downloaded ${link.download} (recorded in the audit log).`);
      } catch (error) {
        say(result, error.message, "error");
      } finally {
        submit.disabled = false;
      }
    });
  }

  async loadTrail() {
    const state = this.root.querySelector("[data-testid=trail-state]");
    const subject = this.root.dataset.subject;
    try {
      let url = `${this.root.dataset.sightingsApi}?subject=${encodeURIComponent(subject)}&limit=${TRAIL_PAGE}`;
      const sightings = [];
      while (url && sightings.length < TRAIL_MAX) {
        const page = await api(url);
        sightings.push(...(Array.isArray(page) ? page : (page.results ?? [])));
        url = Array.isArray(page) ? null : page.next;
      }
      const points = trailPoints(sightings, this.alertId);
      state.textContent = trailSummary(points);
      state.dataset.state = points.length ? "ready" : "empty";
      this.drawTrailList(points);
      if (points.length) this.drawTrailMap(points);
    } catch (error) {
      state.textContent = `The sightings could not be loaded: ${error.message}`;
      state.dataset.state = "error";
    }
  }

  drawTrailList(points) {
    const list = this.root.querySelector("[data-testid=trail-list]");
    list.replaceChildren();
    points.forEach((point, index) => {
      const item = element("li", null, point.current ? "trail-item current" : "trail-item");
      item.dataset.sighting = String(point.id);
      item.appendChild(element("span", String(index + 1), "trail-number"));
      item.appendChild(timeNode(point.capturedAt));
      const where = point.cameraCode ? `${point.camera} (${point.cameraCode})` : point.camera;
      item.appendChild(element("span", where, "trail-camera"));
      if (point.score !== null) item.appendChild(element("span", `score ${point.score.toFixed(3)}`, "muted"));
      if (!point.current) item.appendChild(element("span", `alert ${point.alert}`, "muted"));
      list.appendChild(item);
    });
  }

  drawTrailMap(points) {
    const root = this.root.querySelector("#trail-map");
    root.dataset.points = String(points.length); // shows the container before Leaflet measures it
    const tileUrl = this.root.dataset.tileUrl;
    const map = L.map(root, { attributionControl: Boolean(tileUrl), scrollWheelZoom: false });
    if (tileUrl) {
      L.tileLayer(tileUrl, { maxZoom: 19, attribution: this.root.dataset.tileAttribution || "" }).addTo(map);
      root.dataset.tiles = "on";
    } else {
      root.dataset.tiles = "off"; // a plain background: markers, path and times still work
    }
    const path = points.map((point) => [point.lat, point.lon]);
    L.polyline(path, { className: "trail-path", weight: 3 }).addTo(map);
    const permanent = points.length <= 12;
    points.forEach((point, index) => {
      const marker = L.circleMarker([point.lat, point.lon], {
        radius: point.current ? 8 : 6,
        className: point.current ? "trail-point current" : "trail-point",
      }).addTo(map);
      // Tooltip content as a DOM node: Leaflet would set a string as HTML.
      const label = element("span", `${index + 1}. ${formatTime(new Date(point.capturedAt))}`);
      label.appendChild(element("br"));
      label.appendChild(document.createTextNode(point.camera));
      marker.bindTooltip(label, { permanent, direction: "top", className: "trail-tooltip" });
    });
    if (path.length === 1) map.setView(path[0], 16);
    else map.fitBounds(L.latLngBounds(path), { padding: [30, 30], maxZoom: 17 });
  }

  refreshTimes() {
    const now = new Date();
    for (const node of this.root.querySelectorAll("time[data-relative]")) {
      const date = new Date(node.dataset.relative);
      const out = node.parentElement.querySelector(".relative");
      if (out && !Number.isNaN(date.getTime())) out.textContent = `(${relativeTime(date, now)})`;
    }
    for (const node of this.root.querySelectorAll("[data-relative-of]")) {
      const date = new Date(node.dataset.relativeOf);
      if (!Number.isNaN(date.getTime())) node.textContent = relativeTime(date, now);
    }
  }
}

export function initAlertPage() {
  const root = document.getElementById("alert-page");
  if (!root) return null;
  const page = new AlertPage(root);
  page.start();
  return page;
}

if (typeof document !== "undefined") initAlertPage();
