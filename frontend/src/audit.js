// The auditor's page (audit log, chain verification). Starts only where its root element is.
// Everything that comes from the API is written with textContent: audit events hold text people
// typed (a username tried at a failed login, a purpose), which must never become markup.

const TIME_ZONE = "Asia/Kolkata";
const RELATIVE_REFRESH_MS = 30000;

const absoluteFormat = new Intl.DateTimeFormat("en-GB", {
  timeZone: TIME_ZONE,
  day: "numeric",
  month: "short",
  year: "numeric",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  hour12: false,
});
const relativeFormat = new Intl.RelativeTimeFormat("en", { numeric: "auto" });
const UNITS = [
  ["year", 365 * 24 * 3600],
  ["month", 30 * 24 * 3600],
  ["week", 7 * 24 * 3600],
  ["day", 24 * 3600],
  ["hour", 3600],
  ["minute", 60],
  ["second", 1],
];

export function formatTime(date) {
  return `${absoluteFormat.format(date)} IST`;
}

export function relativeTime(date, now = new Date()) {
  const seconds = Math.round((date.getTime() - now.getTime()) / 1000);
  if (Math.abs(seconds) < 10) return "just now";
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size || unit === "second") {
      return relativeFormat.format(Math.trunc(seconds / size), unit);
    }
  }
  return "";
}

// A summary object as one line of text: `key: value; key: value` (nested values as JSON).
export function summaryText(summary) {
  if (summary === null || summary === undefined) return "";
  if (typeof summary !== "object") return String(summary);
  return Object.entries(summary)
    .map(([key, value]) => `${key}: ${typeof value === "string" ? value : JSON.stringify(value)}`)
    .join("; ");
}

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function sameOriginPath(url) {
  // DRF builds absolute next/previous links from the request's host; keep only path and query so
  // a proxy's host or scheme never sends the page elsewhere.
  const parsed = new URL(url, window.location.href);
  return `${parsed.pathname}${parsed.search}`;
}

async function getJson(url) {
  const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (!response.ok) {
    const error = new Error(response.status === 429 ? "too many requests, try again in a minute" : `HTTP ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return response.json();
}

function setState(node, state, text) {
  node.dataset.state = state;
  node.textContent = text;
}

// --- chain verification ------------------------------------------------------------------------
function chainView(root) {
  const status = root.querySelector("#chain-status");
  const events = root.querySelector("#chain-events");
  const head = root.querySelector("#chain-head");
  const checkpoints = root.querySelector("#chain-checkpoints");
  const notes = root.querySelector("#chain-notes");
  const button = root.querySelector("#chain-reverify");

  async function verify() {
    button.disabled = true;
    setState(status, "loading", "Verifying the chain…");
    notes.replaceChildren();
    try {
      const report = await getJson(root.dataset.verifyUrl);
      if (report.ok) {
        setState(status, "ok", "ok: the chain is intact");
      } else {
        const where = report.first_break?.sequence != null ? `at sequence ${report.first_break.sequence}` : "in the checkpoints";
        const row = report.first_break?.id != null ? ` (event id ${report.first_break.id})` : "";
        setState(status, "broken", `BROKEN ${where}${row}: ${report.first_break?.reason ?? "unknown problem"}`);
      }
      events.textContent = String(report.events_checked);
      head.textContent = report.head_sequence != null ? String(report.head_sequence) : "—";
      checkpoints.textContent = String(report.checkpoints_checked);
      for (const note of report.notes ?? []) notes.appendChild(element("li", note));
    } catch (error) {
      setState(status, "error", `Verification unavailable (${error.message}).`);
      for (const node of [events, head, checkpoints]) node.textContent = "—";
    } finally {
      button.disabled = false;
    }
  }

  button.addEventListener("click", verify);
  return verify;
}

// --- event table -------------------------------------------------------------------------------
function zoneNames(root) {
  const names = new Map();
  for (const option of root.querySelectorAll("select[name=zone] option")) {
    if (option.value) names.set(option.value, option.textContent);
  }
  return names;
}

function timeCell(value) {
  const cell = element("td", null, "audit-time");
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) {
    cell.textContent = String(value ?? "");
    return cell;
  }
  const time = element("time", formatTime(date));
  time.dateTime = date.toISOString();
  const relative = element("span", relativeTime(date), "audit-relative");
  relative.dataset.relative = date.toISOString();
  cell.append(time, relative);
  return cell;
}

function eventRow(event, zones) {
  const row = document.createElement("tr");
  row.dataset.sequence = String(event.sequence);
  const object = [event.object_type, event.object_id ? `#${event.object_id}` : ""].filter(Boolean).join(" ");
  const zone = event.zone != null ? zones.get(String(event.zone)) ?? `zone ${event.zone}` : "";
  row.append(
    element("td", event.sequence, "audit-seq"),
    timeCell(event.occurred_at),
    element("td", event.actor_username || "—", "audit-actor"),
    element("td", event.role, "audit-role"),
    element("td", event.action, "audit-action"),
    element("td", object, "audit-object"),
    element("td", zone, "audit-zone"),
    element("td", event.purpose, "audit-purpose"),
    element("td", summaryText(event.summary), "audit-summary"),
  );
  return row;
}

function eventsView(root) {
  const table = root.querySelector("#audit-events");
  const body = table.querySelector("tbody");
  const state = root.querySelector("#audit-events-state");
  const newer = root.querySelector("#audit-newer");
  const older = root.querySelector("#audit-older");
  const zones = zoneNames(root);
  let links = { next: null, previous: null };

  async function load(url, { focus = false } = {}) {
    newer.disabled = true;
    older.disabled = true;
    table.setAttribute("aria-busy", "true");
    setState(state, "loading", "Loading events…");
    try {
      const page = await getJson(url);
      body.replaceChildren(...page.results.map((event) => eventRow(event, zones)));
      links = { next: page.next, previous: page.previous };
      if (page.results.length === 0) {
        setState(state, "empty", "No events match these filters.");
      } else {
        const first = page.results[0].sequence;
        const last = page.results[page.results.length - 1].sequence;
        setState(state, "loaded", `Showing ${page.results.length} events, sequence ${first} down to ${last}.`);
      }
      if (focus) table.focus();
    } catch (error) {
      body.replaceChildren();
      setState(state, "error", `Could not load the events (${error.message}).`);
    } finally {
      table.setAttribute("aria-busy", "false");
      newer.disabled = !links.previous;
      older.disabled = !links.next;
    }
  }

  newer.addEventListener("click", () => links.previous && load(sameOriginPath(links.previous), { focus: true }));
  older.addEventListener("click", () => links.next && load(sameOriginPath(links.next), { focus: true }));
  return () => load(`${root.dataset.eventsUrl}?${root.dataset.query ?? ""}`);
}

function refreshRelativeTimes(root) {
  const now = new Date();
  for (const node of root.querySelectorAll("[data-relative]")) {
    const date = new Date(node.dataset.relative);
    if (!Number.isNaN(date.getTime())) node.textContent = relativeTime(date, now);
  }
}

function initAuditPage() {
  const root = document.getElementById("audit-log");
  if (!root) return;
  const verify = chainView(root);
  const loadEvents = eventsView(root);
  verify();
  loadEvents();
  refreshRelativeTimes(root);
  window.setInterval(() => refreshRelativeTimes(root), RELATIVE_REFRESH_MS);
}

// Pages only (node's test runner imports this module for its pure functions).
if (typeof document !== "undefined") initAuditPage();
