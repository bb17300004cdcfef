// Pure helpers of the city map (no Leaflet, no DOM), unit-tested with node's runner.
import { formatTime, relativeTime } from "./audit.js";

export const HEALTHS = ["online", "degraded", "offline", "unknown"];
// A cluster shows its worst member: one offline camera in a crowd of healthy ones must be seen.
const SEVERITY = { unknown: 0, online: 1, degraded: 2, offline: 3 };
export const HEALTH_LABELS = { online: "Online", degraded: "Degraded", offline: "Offline", unknown: "No stream / unknown" };
const KIND_LABELS = { fixed: "Fixed", ptz: "PTZ", vehicle: "Vehicle-mounted" };
const numberFormat = new Intl.NumberFormat("en-IN");

export function formatCount(n) {
  return numberFormat.format(n);
}

export function normaliseHealth(health) {
  return HEALTHS.includes(health) ? health : "unknown";
}

// A predicate over camera properties for the filter form's values ("" = any).
export function cameraFilter({ zone = "", kind = "", health = "" } = {}) {
  return (camera) =>
    (zone === "" || String(camera.zone_id) === String(zone)) &&
    (kind === "" || camera.kind === kind) &&
    (health === "" || normaliseHealth(camera.health) === health);
}

export function statusText(shown, total) {
  const noun = total === 1 ? "camera" : "cameras";
  return shown === total ? `${formatCount(total)} ${noun}` : `${formatCount(shown)} of ${formatCount(total)} ${noun}`;
}

// Counts per health of a list of health values, and the worst one present.
export function healthSummary(healths) {
  const counts = { online: 0, degraded: 0, offline: 0, unknown: 0 };
  let worst = "unknown";
  for (const raw of healths) {
    const health = normaliseHealth(raw);
    counts[health] += 1;
    if (SEVERITY[health] > SEVERITY[worst]) worst = health;
  }
  return { counts, worst };
}

export function healthTitle(total, counts) {
  const parts = HEALTHS.filter((health) => counts[health]).map(
    (health) => `${formatCount(counts[health])} ${HEALTH_LABELS[health].toLowerCase()}`,
  );
  return `${formatCount(total)} cameras: ${parts.join(", ")}`;
}

// The popup's facts as [label, text] rows, from a camera's properties (missing facts left out).
export function cameraFacts(camera, now = new Date()) {
  const rows = [
    ["Code", camera.code],
    ["Kind", KIND_LABELS[camera.kind] ?? camera.kind],
    ["Zone", camera.zone_name],
    ["Place", [camera.place, camera.place_category].filter(Boolean).join(" · ")],
    ["Group", camera.group],
    ["Health", HEALTH_LABELS[normaliseHealth(camera.health)]],
  ];
  if (camera.last_frame_at) {
    const at = new Date(camera.last_frame_at);
    if (!Number.isNaN(at.getTime())) rows.push(["Last frame", `${formatTime(at)} (${relativeTime(at, now)})`]);
  }
  if (typeof camera.achieved_fps === "number") rows.push(["Frame rate", `${camera.achieved_fps.toFixed(1)} fps`]);
  if (camera.last_error) rows.push(["Last error", camera.last_error]);
  rows.push(["Stream", camera.has_stream ? "configured" : "none configured"]);
  if (typeof camera.heading_deg === "number") rows.push(["Heading", `${Math.round(camera.heading_deg)}°`]);
  if (camera.demo) rows.push(["Demo", "yes (replays demo media)"]);
  if (camera.enabled === false) rows.push(["Enabled", "no"]);
  return rows.filter(([, value]) => value !== undefined && value !== null && value !== "");
}

