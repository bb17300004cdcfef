// Operation pages: the request form (on /operations/) and one operation's actions and its camera
// list (on /operations/<id>/). Every change goes through the API, which checks role, zone and the
// two-person rule; a refusal is shown as the API's sentence. Text from the server is only ever
// set with textContent.
import { api } from "./watchlists.js";

const IST_OFFSET = "+05:30"; // Asia/Kolkata has no daylight saving time

// "2026-11-26T10:30" typed in a datetime-local field, read as IST -> ISO 8601 with the offset.
export function istToIso(localText) {
  const match = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})(:\d{2})?$/.exec(String(localText ?? "").trim());
  if (!match) return null;
  return `${match[1]}T${match[2]}${match[3] ?? ":00"}${IST_OFFSET}`;
}

// A Date -> the value of a datetime-local field in IST ("YYYY-MM-DDTHH:MM").
export function isoToIstInput(date) {
  const shifted = new Date(date.getTime() + 330 * 60000);
  return shifted.toISOString().slice(0, 16);
}

export function splitList(text) {
  const seen = new Set();
  for (const part of String(text ?? "").split(/[,;\s]+/)) {
    const value = part.trim();
    if (value) seen.add(value);
  }
  return [...seen];
}

const FIELD_LABELS = {
  name: "Name",
  purpose: "Purpose",
  authority_reference: "Authority reference",
  zones: "Zones",
  camera_groups: "Camera groups",
  cameras: "Cameras",
  watchlists: "Watchlists",
  starts_at: "Start",
  ends_at: "End",
  reason: "Reason",
};

// The API's refusal as one sentence a person reads: its message, or its field errors with the
// form's labels ("Watchlists: This list may not be empty."), or what the extra names ("No camera
// belongs to that group: stations.").
export function refusalSentence(data, status) {
  if (status === 429) return "Too many requests: wait a minute and try again.";
  if (data?.errors && typeof data.errors === "object") {
    const parts = Object.entries(data.errors).map(([field, messages]) => {
      const label = FIELD_LABELS[field] ?? field;
      const text = [].concat(messages).map((m) => (typeof m === "string" ? m : JSON.stringify(m))).join(" ");
      return `${label}: ${text}`;
    });
    if (parts.length) return parts.join(" ");
  }
  if (data?.message) {
    const named = data.groups ?? data.watchlists;
    const base = String(data.message);
    return Array.isArray(named) && named.length ? `${base.replace(/\.$/, "")}: ${named.join(", ")}.` : base;
  }
  return `The request failed (HTTP ${status}).`;
}

function say(element, text, kind = "ok") {
  if (!element) return;
  element.textContent = text;
  element.dataset.kind = kind;
}

function busy(root, on) {
  for (const button of root.querySelectorAll("button")) button.disabled = on;
}

async function send(url, options) {
  try {
    return await api(url, options);
  } catch (error) {
    error.message = refusalSentence(error.data, error.status);
    throw error;
  }
}

// Camera codes -> ids through the camera API (search, exact code), in your zones only.
async function cameraIds(apiUrl, codes) {
  const ids = [];
  for (const code of codes) {
    const page = await send(`${apiUrl}?search=${encodeURIComponent(code)}&limit=50`);
    const found = (page.results ?? page).find((camera) => camera.code.toLowerCase() === code.toLowerCase());
    if (!found) throw new Error(`No camera with the code ${code} in your zones.`);
    ids.push(found.id);
  }
  return ids;
}

function initRequestForm() {
  const form = document.getElementById("operation-form");
  if (!form) return;
  const result = form.querySelector(".result");
  const starts = form.querySelector("input[name=starts_at]");
  const ends = form.querySelector("input[name=ends_at]");
  const now = new Date();
  if (!starts.value) starts.value = isoToIstInput(now);
  if (!ends.value) ends.value = isoToIstInput(new Date(now.getTime() + 8 * 3600 * 1000));

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    busy(form, true);
    say(result, "Sending the request…", "busy");
    try {
      const cameras = await cameraIds(form.dataset.camerasApi, splitList(data.get("cameras")));
      const operation = await send(form.dataset.api, {
        method: "POST",
        json: {
          name: data.get("name"),
          purpose: data.get("purpose"),
          authority_reference: data.get("authority_reference"),
          zones: data.getAll("zones").map(Number),
          camera_groups: splitList(data.get("camera_groups")),
          cameras,
          watchlists: data.getAll("watchlists").map(Number),
          starts_at: istToIso(data.get("starts_at")),
          ends_at: istToIso(data.get("ends_at")),
        },
      });
      say(result, "Requested.", "ok");
      window.location.assign(`${form.dataset.detailUrl}${operation.id}/`);
    } catch (error) {
      say(result, error.message, "error");
    } finally {
      busy(form, false);
    }
  });
}

function cell(text) {
  const td = document.createElement("td");
  td.textContent = text ?? "";
  return td;
}

function initOperationPage() {
  const page = document.getElementById("operation-page");
  if (!page) return;
  const result = page.querySelector("[data-testid=action-result]");
  const actions = page.querySelector(".operation-actions");

  async function act(action, json) {
    busy(actions, true);
    say(result, "Sending…", "busy");
    try {
      await send(`${page.dataset.api}${action}/`, { method: "POST", json: json ?? {} });
      window.location.reload();
    } catch (error) {
      say(result, error.message, "error");
      busy(actions, false);
    }
  }
  for (const button of page.querySelectorAll("button[data-action]")) {
    button.addEventListener("click", () => act(button.dataset.action));
  }
  for (const form of page.querySelectorAll("form[data-action]")) {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      act(form.dataset.action, { reason: String(new FormData(form).get("reason") ?? "") });
    });
  }

  // The covered cameras in your zones, a page at a time.
  const body = page.querySelector("#operation-cameras tbody");
  const state = page.querySelector("#cameras-state");
  const more = page.querySelector("#cameras-more");
  let shown = 0;
  async function load(url) {
    more.hidden = true;
    try {
      const data = await send(url);
      for (const camera of data.results) {
        const row = document.createElement("tr");
        row.dataset.camera = String(camera.id);
        const health = cell(camera.health);
        health.className = `cam-health cam-health-${camera.health}`;
        row.append(cell(camera.code), cell(camera.name), cell(camera.zone), cell(camera.place), cell(camera.group || "—"), health);
        body.appendChild(row);
      }
      shown += data.results.length;
      state.dataset.state = shown ? "loaded" : "empty";
      state.textContent = shown
        ? `Showing ${shown} of ${data.count} cameras in your zones.`
        : "No camera of this operation is in your zones.";
      if (data.next) {
        const next = new URL(data.next, window.location.href);
        more.dataset.next = `${next.pathname}${next.search}`;
        more.hidden = false;
      }
    } catch (error) {
      state.dataset.state = "error";
      state.textContent = `Could not load the cameras (${error.message}).`;
    }
  }
  more.addEventListener("click", () => more.dataset.next && load(more.dataset.next));
  load(`${page.dataset.camerasApi}?limit=100`);
}

// Pages only (node's test runner imports this module for its pure functions).
if (typeof document !== "undefined") {
  initRequestForm();
  initOperationPage();
}
