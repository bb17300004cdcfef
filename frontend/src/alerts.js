// The live alerts panel beside the city map: open alerts from the API at start, then live from
// /ws/events/ (a new alert appears without reload, with an audible cue that can be muted), sorted
// by priority then time; acknowledge; escalation marked. After the feed was down the list is
// reloaded from the API, so nothing raised meanwhile is missed.
//
// Images are never fetched on their own: every view of a probe crop or an enrolled photo is an
// audited biometric read with a purpose, so the officer asks for them and gives the purpose.
// Subject, watchlist and camera names are user-supplied: text only, never markup.
import { liveEvents } from "./events.js";
import { formatTime, relativeTime } from "./audit.js";
import { api, auditedImage } from "./watchlists.js";

export const OPEN_STATUSES = ["new", "acknowledged", "pending_verification", "escalated"];
const STATUS_LABELS = {
  new: "New",
  acknowledged: "Acknowledged",
  pending_verification: "Awaiting verification",
  confirmed: "Confirmed",
  dismissed: "Dismissed",
  escalated: "Escalated",
};
const ACKNOWLEDGEABLE = new Set(["new", "escalated"]);
const MUTE_KEY = "fr.alerts.muted";
const RELATIVE_REFRESH_MS = 30000;
const NEW_HIGHLIGHT_MS = 10000;
const PURPOSE_MIN = 5;
const LIST_LIMIT = 200;

// --- pure helpers (unit-tested) -------------------------------------------------------------

function timeOf(alert) {
  const time = Date.parse(alert.first_seen_at ?? alert.created_at ?? "");
  return Number.isNaN(time) ? 0 : time;
}

// The API's alert and the event's alert as one shape (the list API may nest or rename fields).
export function normaliseAlert(raw) {
  const pick = (...values) => values.find((value) => value !== undefined && value !== null);
  const alert = { ...raw };
  alert.score = pick(raw.score, raw.best_score);
  alert.subject_id = pick(raw.subject_id, raw.subject?.id, typeof raw.subject === "number" ? raw.subject : undefined);
  alert.subject_name = pick(raw.subject_name, raw.subject?.full_name, raw.subject?.name, "");
  alert.watchlist_id = pick(raw.watchlist_id, raw.watchlist?.id, typeof raw.watchlist === "number" ? raw.watchlist : undefined);
  alert.watchlist_name = pick(raw.watchlist_name, raw.watchlist?.name, "");
  alert.camera_id = pick(raw.camera_id, raw.camera?.id, typeof raw.camera === "number" ? raw.camera : undefined);
  alert.camera_name = pick(raw.camera_name, raw.camera?.name, "");
  alert.camera_code = pick(raw.camera_code, raw.camera?.code, "");
  alert.zone_id = pick(raw.zone_id, typeof raw.zone === "number" ? raw.zone : undefined);
  alert.priority = Number(pick(raw.priority, 9));
  return alert;
}

// Highest priority first (1 is the highest), then the newest.
export function compareAlerts(a, b) {
  return a.priority - b.priority || timeOf(b) - timeOf(a) || b.id - a.id;
}

export function isOpen(alert) {
  return OPEN_STATUSES.includes(alert.status);
}

// The list after one alert arrived or changed: replaced by id, dropped once closed, sorted.
export function mergeAlert(list, alert) {
  const rest = list.filter((item) => item.id !== alert.id);
  if (isOpen(alert)) rest.push(alert);
  return rest.sort(compareAlerts);
}

export function scoreText(score, threshold) {
  if (typeof score !== "number") return "score unknown";
  if (typeof threshold !== "number") return `score ${score.toFixed(2)}`;
  const margin = score - threshold;
  const sign = margin >= 0 ? "+" : "−";
  return `score ${score.toFixed(2)} vs threshold ${threshold.toFixed(2)} (${sign}${Math.abs(margin).toFixed(2)})`;
}

export function statusLabel(status) {
  return STATUS_LABELS[status] ?? status;
}

// A watchlist category as words ("missing_person" -> "Missing person").
export function categoryLabel(category) {
  const text = String(category ?? "").replaceAll("_", " ").trim();
  return text ? text[0].toUpperCase() + text.slice(1) : "";
}

export function countText(n) {
  if (n === 0) return "No open alerts";
  return n === 1 ? "1 open alert" : `${n} open alerts`;
}

// Whether an event deserves the audible cue: a new alert, or an alert that has just escalated.
export function wantsCue(type, alert, previous) {
  if (type === "alert.created") return isOpen(alert);
  return type === "alert.updated" && alert.status === "escalated" && previous?.status !== "escalated";
}

// Tones of the cue: higher priorities (smaller numbers) are more insistent.
export function cuePattern(priority) {
  const urgent = priority <= 1;
  const count = urgent ? 3 : priority <= 3 ? 2 : 1;
  const frequency = urgent ? 1046 : 880;
  return Array.from({ length: count }, (_, index) => ({ frequency, start: index * 0.22, duration: 0.15 }));
}

export function purposeProblem(purpose) {
  const text = String(purpose ?? "").trim();
  return text.length >= PURPOSE_MIN ? null : `Give the purpose of viewing (at least ${PURPOSE_MIN} characters).`;
}

// The audited image routes of an alert's probe crop and its matched enrolled photo, as the alert's
// detail names them (null where there is no image: a purged crop, a removed photo). They are read
// with a POST that carries the purpose (auditedImage), never put in an <img src> as a URL.
export function imageUrls({ probeUrl, photoUrl }) {
  return { probe: probeUrl || null, photo: photoUrl || null };
}

export function reconnectText(retryAt, now = Date.now()) {
  const seconds = Math.max(0, Math.ceil((retryAt - now) / 1000));
  return seconds > 0 ? `Live alerts down: reconnecting in ${seconds} s…` : "Live alerts down: reconnecting…";
}

// --- page ----------------------------------------------------------------------------------

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function button(label, className, onClick) {
  const node = element("button", label, className);
  node.type = "button";
  node.addEventListener("click", onClick);
  return node;
}

class Cue {
  constructor(toggle) {
    this.toggle = toggle;
    this.context = null;
    this.muted = this.readMuted();
    this.show();
    toggle?.addEventListener("click", () => {
      this.muted = !this.muted;
      try {
        window.localStorage.setItem(MUTE_KEY, this.muted ? "1" : "0");
      } catch {
        // storage refused (private mode): the choice lasts for this page only
      }
      this.show();
    });
    // Browsers start audio only after a gesture; the context is made on the first one.
    const unlock = () => {
      if (!this.context && window.AudioContext) this.context = new window.AudioContext();
      this.context?.resume?.();
    };
    document.addEventListener("pointerdown", unlock, { once: true, capture: true });
    document.addEventListener("keydown", unlock, { once: true, capture: true });
  }

  readMuted() {
    try {
      return window.localStorage.getItem(MUTE_KEY) === "1";
    } catch {
      return false;
    }
  }

  show() {
    if (!this.toggle) return;
    this.toggle.setAttribute("aria-pressed", String(this.muted));
    this.toggle.textContent = this.muted ? "Sound off" : "Sound on";
    this.toggle.title = this.muted ? "Alert sound is muted: click to unmute" : "Click to mute the alert sound";
  }

  play(priority) {
    if (this.muted || !this.context || this.context.state !== "running") return false;
    const now = this.context.currentTime;
    for (const tone of cuePattern(priority)) {
      const oscillator = this.context.createOscillator();
      const gain = this.context.createGain();
      oscillator.type = "sine";
      oscillator.frequency.value = tone.frequency;
      gain.gain.setValueAtTime(0.0001, now + tone.start);
      gain.gain.exponentialRampToValueAtTime(0.3, now + tone.start + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + tone.start + tone.duration);
      oscillator.connect(gain).connect(this.context.destination);
      oscillator.start(now + tone.start);
      oscillator.stop(now + tone.start + tone.duration + 0.02);
    }
    return true;
  }
}

class AlertPanel {
  constructor(root) {
    this.root = root;
    this.alertsUrl = root.dataset.alertsUrl;
    this.canAcknowledge = root.dataset.canAcknowledge === "true";
    this.canViewImages = root.dataset.canViewImages === "true";
    this.list = root.querySelector("#alert-list");
    this.count = root.querySelector("#alert-count");
    this.feed = root.querySelector("#events-state");
    this.message = root.querySelector("#alert-message");
    this.cue = new Cue(root.querySelector("#alert-mute"));
    this.alerts = [];
    this.nodes = new Map(); // alert id -> li
    this.fresh = new Set(); // ids that arrived live, highlighted for a while
    this.cues = 0;
  }

  start() {
    const events = liveEvents();
    let loadedOnce = false;
    events.onState((state, info) => {
      this.showFeed(state, info);
      // Reload on the first connect as well: an alert raised between the page's load and the
      // socket's open would otherwise be missed.
      if (state === "connected" && (info.reconnected || !loadedOnce)) {
        loadedOnce = true;
        this.load();
      }
    });
    events.on("alert.created", (message) => this.receive("alert.created", message.alert));
    events.on("alert.updated", (message) => this.receive("alert.updated", message.alert));
    this.load();
    window.setInterval(() => this.refreshTimes(), RELATIVE_REFRESH_MS);
    window.setInterval(() => {
      if (this.feed?.dataset.state === "down") this.showFeed("down", { retryAt: events.retryAt });
    }, 1000);
  }

  showFeed(state, info = {}) {
    if (!this.feed) return;
    this.feed.dataset.state = state;
    if (state === "connected") this.feed.textContent = "Live alerts: connected";
    else if (state === "down") this.feed.textContent = reconnectText(info.retryAt ?? Date.now());
    else this.feed.textContent = "Live alerts: connecting…";
  }

  async load() {
    const sequence = (this.loadSequence = (this.loadSequence ?? 0) + 1);
    this.root.setAttribute("aria-busy", "true");
    try {
      const url = `${this.alertsUrl}?open=true&limit=${LIST_LIMIT}`;
      const body = await api(url);
      if (sequence !== this.loadSequence) return; // a later load won
      const items = (body.results ?? body).map(normaliseAlert).filter(isOpen);
      // Events that arrived while the request was in flight are newer than the list: keep them.
      const live = this.alerts.filter((alert) => this.fresh.has(alert.id));
      let merged = items.sort(compareAlerts);
      for (const alert of live) if (!items.some((item) => item.id === alert.id)) merged = mergeAlert(merged, alert);
      this.alerts = merged;
      this.say("");
      this.render();
    } catch (error) {
      this.say(`Could not load the open alerts: ${error.message}`, "error");
      if (!this.alerts.length) this.render();
    } finally {
      this.root.removeAttribute("aria-busy");
      this.root.dataset.loaded = "true";
    }
  }

  say(text, kind = "ok") {
    if (!this.message) return;
    this.message.textContent = text;
    this.message.dataset.kind = kind;
    this.message.hidden = !text;
  }

  receive(type, raw) {
    const alert = normaliseAlert(raw);
    const previous = this.alerts.find((item) => item.id === alert.id);
    if (type === "alert.created") {
      this.fresh.add(alert.id);
      window.setTimeout(() => {
        this.fresh.delete(alert.id);
        this.nodes.get(alert.id)?.classList.remove("alert-fresh");
      }, NEW_HIGHLIGHT_MS);
    }
    this.alerts = mergeAlert(this.alerts, alert);
    if (wantsCue(type, alert, previous) && this.cue.play(alert.priority)) {
      this.cues += 1;
      this.root.dataset.cues = String(this.cues);
    }
    this.render();
  }

  render() {
    const ids = new Set(this.alerts.map((alert) => alert.id));
    for (const [id, node] of this.nodes) {
      if (!ids.has(id)) {
        node.remove();
        this.nodes.delete(id);
      }
    }
    this.list.querySelector(".empty")?.remove();
    let before = this.list.firstElementChild;
    for (const alert of this.alerts) {
      let node = this.nodes.get(alert.id);
      if (!node) {
        node = this.item(alert);
        this.nodes.set(alert.id, node);
      } else {
        this.fill(node, alert);
      }
      if (node !== before) this.list.insertBefore(node, before);
      else before = before.nextElementSibling;
    }
    if (!this.alerts.length) this.list.appendChild(element("li", "No open alerts. New ones appear here as they are raised.", "empty"));
    this.list.dataset.count = String(this.alerts.length);
    if (this.count) this.count.textContent = countText(this.alerts.length);
    document.dispatchEvent(new CustomEvent("fr:alerts", { detail: this.alerts }));
  }

  item(alert) {
    const node = element("li", null, "alert-item");
    node.setAttribute("data-testid", "alert-item");
    node.appendChild(element("div", null, "alert-summary"));
    node.appendChild(element("div", null, "alert-evidence"));
    this.fill(node, alert);
    return node;
  }

  fill(node, alert) {
    node.dataset.alertId = String(alert.id);
    node.dataset.status = alert.status;
    node.dataset.priority = String(alert.priority);
    node.classList.toggle("alert-escalated", alert.status === "escalated");
    node.classList.toggle("alert-fresh", this.fresh.has(alert.id));
    const summary = node.querySelector(".alert-summary");
    summary.replaceChildren();

    const head = element("div", null, "alert-head");
    head.appendChild(element("span", `P${alert.priority}`, `alert-priority priority-${Math.min(alert.priority, 5)}`));
    const name = element("strong", null, "alert-subject");
    name.setAttribute("data-testid", "alert-subject");
    // The alert's own page (adjudication, trail, evidence): a link an officer can open on a phone.
    const link = element("a", alert.subject_name, "alert-link");
    link.href = `/alerts/${encodeURIComponent(alert.id)}/`;
    name.appendChild(link);
    head.appendChild(name);
    const status = element("span", statusLabel(alert.status), `alert-status status-${alert.status}`);
    status.setAttribute("data-testid", "alert-status");
    head.appendChild(status);
    summary.appendChild(head);

    const watchlist = [alert.watchlist_name, categoryLabel(alert.category)].filter(Boolean).join(" · ");
    summary.appendChild(element("div", watchlist, "alert-watchlist"));
    summary.appendChild(element("div", scoreText(alert.score, alert.threshold), "alert-score"));

    const where = element("div", null, "alert-camera");
    const cameraLabel = alert.camera_code ? `${alert.camera_name} (${alert.camera_code})` : alert.camera_name;
    where.appendChild(
      button(cameraLabel || "Camera", "link-button", () =>
        document.dispatchEvent(
          new CustomEvent("fr:show-camera", {
            detail: { camera_id: alert.camera_id, latitude: alert.latitude, longitude: alert.longitude },
          }),
        ),
      ),
    );
    summary.appendChild(where);

    const seen = new Date(alert.first_seen_at);
    if (!Number.isNaN(seen.getTime())) {
      const when = element("div", null, "alert-time");
      const time = element("time", formatTime(seen));
      time.dateTime = seen.toISOString();
      when.appendChild(time);
      const relative = element("span", relativeTime(seen), "alert-relative");
      relative.dataset.relative = seen.toISOString();
      when.appendChild(relative);
      summary.appendChild(when);
    }
    const people = [];
    if (alert.sightings_count > 1) people.push(`${alert.sightings_count} sightings`);
    if (alert.assignee) people.push(`claimed by ${alert.assignee}`);
    if (alert.confirmed_by) people.push(`confirmed by ${alert.confirmed_by}`);
    if (people.length) summary.appendChild(element("div", people.join(" · "), "alert-people muted"));

    const actions = element("div", null, "alert-actions");
    if (this.canAcknowledge && ACKNOWLEDGEABLE.has(alert.status)) {
      actions.appendChild(button("Acknowledge", "primary", (event) => this.acknowledge(alert.id, event.currentTarget, node)));
    }
    if (this.canViewImages && !node.querySelector(".image-request, .alert-images")) {
      actions.appendChild(button("View images", "", () => this.askPurpose(alert.id, node)));
    }
    const result = element("div", "", "result");
    result.setAttribute("role", "status");
    actions.appendChild(result);
    summary.appendChild(actions);
  }

  async acknowledge(alertId, control, node) {
    control.disabled = true;
    try {
      const updated = await api(`${this.alertsUrl}${alertId}/acknowledge/`, { method: "POST", json: {} });
      if (updated && updated.id === alertId) {
        this.alerts = mergeAlert(this.alerts, normaliseAlert(updated));
        this.render();
      }
    } catch (error) {
      control.disabled = false;
      const result = node.querySelector(".result");
      if (result) {
        result.textContent = error.message;
        result.dataset.kind = "error";
      }
    }
  }

  // "View images": a purpose first (the read is audited with it), then both images side by side.
  askPurpose(alertId, node) {
    const evidence = node.querySelector(".alert-evidence");
    if (evidence.querySelector(".image-request")) return;
    node.querySelector(".alert-actions button:not(.primary)")?.remove();
    const form = element("form", null, "image-request inline-form");
    const label = element("label", "Purpose of viewing ");
    const input = element("input");
    input.name = "purpose";
    input.required = true;
    input.minLength = PURPOSE_MIN;
    input.placeholder = "e.g. verifying alert for FIR 55/2026";
    label.appendChild(input);
    form.appendChild(label);
    const show = element("button", "Show images");
    show.type = "submit";
    form.appendChild(show);
    form.appendChild(button("Cancel", "", () => {
      form.remove();
      this.fill(node, this.alerts.find((alert) => alert.id === alertId) ?? { id: alertId });
    }));
    const problem = element("div", "", "result");
    problem.setAttribute("role", "status");
    form.appendChild(problem);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const purpose = input.value;
      const refusal = purposeProblem(purpose);
      if (refusal) {
        problem.textContent = refusal;
        problem.dataset.kind = "error";
        return;
      }
      show.disabled = true;
      try {
        await this.showImages(alertId, purpose, evidence);
        form.remove();
      } catch (error) {
        problem.textContent = error.message;
        problem.dataset.kind = "error";
        show.disabled = false;
      }
    });
    evidence.appendChild(form);
    input.focus();
  }

  async showImages(alertId, purpose, evidence) {
    // The alert's detail names the audited routes of its probe crop and matched enrolled photo.
    const detail = await api(`${this.alertsUrl}${alertId}/`);
    const urls = imageUrls({ probeUrl: detail.probe_url, photoUrl: detail.matched_photo_url });
    const pair = element("div", null, "alert-images");
    pair.appendChild(urls.probe ? this.figure(urls.probe, "Probe crop (camera)", purpose) : element("p", "The probe crop was purged.", "muted"));
    pair.appendChild(urls.photo ? this.figure(urls.photo, "Enrolled photo", purpose) : element("p", "No enrolled photo is linked.", "muted"));
    evidence.replaceChildren(pair);
  }

  figure(url, caption, purpose) {
    const figure = element("figure");
    const image = element("img");
    image.alt = caption;
    const unavailable = () => image.replaceWith(element("p", "Not available (refused, purged or removed).", "error"));
    image.addEventListener("error", unavailable);
    auditedImage(image, url, purpose).catch(unavailable);
    figure.appendChild(image);
    figure.appendChild(element("figcaption", caption));
    return figure;
  }

  refreshTimes() {
    const now = new Date();
    for (const node of this.list.querySelectorAll("[data-relative]")) {
      const date = new Date(node.dataset.relative);
      if (!Number.isNaN(date.getTime())) node.textContent = relativeTime(date, now);
    }
  }
}

export function initAlertPanel() {
  const root = document.getElementById("alert-panel");
  if (!root) return null;
  const panel = new AlertPanel(root);
  panel.start();
  return panel;
}

// Pages only (node's test runner imports this module for its pure functions).
if (typeof document !== "undefined") initAlertPanel();
