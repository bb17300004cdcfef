// Pure helpers of the alert page (node-tested): which buttons an alert's state allows, the
// two-person rule in words, the adjudication history as text, the sighting trail as points in
// time order, and the evidence export's URL and file name. No DOM here.

// Mirrors backend/alerts/services.py ALLOWED_FROM: the page offers what the state allows for the
// role; the API decides again (claims, zones, the two-person rule) and its refusal is shown.
export const ALLOWED_FROM = {
  acknowledge: ["new", "escalated"],
  confirm: ["new", "acknowledged", "escalated"],
  verify: ["pending_verification"],
  dismiss: ["new", "acknowledged", "pending_verification", "escalated"],
  escalate: ["new", "acknowledged"],
};
export const ACTION_ORDER = ["acknowledge", "confirm", "verify", "dismiss", "escalate"];
export const REASON_REQUIRED = new Set(["dismiss", "escalate"]);
const LABELS = {
  acknowledge: "Acknowledge (claim)",
  confirm: "Confirm match",
  verify: "Verify confirmation",
  dismiss: "Dismiss",
  escalate: "Escalate",
};
const PAST = {
  acknowledge: "acknowledged",
  confirm: "confirmed",
  verify: "verified",
  dismiss: "dismissed",
  escalate: "escalated",
};
const PURPOSE_MIN = 5;

export function actionLabel(verb) {
  return LABELS[verb] ?? verb;
}

// The actions to offer: those the role may call (from the page) that the alert's status allows.
export function actionsFor(alert, roleActions) {
  const allowed = new Set(roleActions ?? []);
  return ACTION_ORDER.filter((verb) => allowed.has(verb) && (ALLOWED_FROM[verb] ?? []).includes(alert?.status));
}

// The two-person rule made plain for whoever reads the page (`me`: the signed-in username).
export function twoPersonText(alert, me) {
  const confirmer = alert?.confirmed_by;
  switch (alert?.status) {
    case "pending_verification": {
      const base = `Confirmed by ${confirmer}. Awaiting verification by an officer other than ${confirmer}.`;
      return confirmer === me ? `${base} You confirmed it: another officer or supervisor must verify it.` : base;
    }
    case "confirmed":
      return `Confirmed by ${confirmer} and verified by ${alert.verified_by}: two officers agreed.`;
    case "dismissed":
      return confirmer
        ? `Confirmed by ${confirmer}, then dismissed: the confirmation was not upheld.`
        : "Dismissed: not acted upon.";
    default:
      return "Not confirmed yet. A confirmation stands only once a second officer verifies it.";
  }
}

export function peopleText(alert) {
  const parts = [];
  parts.push(alert?.assignee ? `claimed by ${alert.assignee}` : "not claimed");
  if (alert?.confirmed_by) parts.push(`confirmed by ${alert.confirmed_by}`);
  if (alert?.verified_by) parts.push(`verified by ${alert.verified_by}`);
  return parts.join(" · ");
}

// One adjudication as a line: "alice confirmed", "the system escalated: Not acknowledged …".
export function historyText(adjudication) {
  const who = adjudication?.actor || "the system";
  const did = PAST[adjudication?.action] ?? adjudication?.action ?? "acted";
  const reason = String(adjudication?.reason ?? "").trim();
  return reason ? `${who} ${did}: ${reason}` : `${who} ${did}`;
}

function finite(value) {
  const number = typeof value === "string" ? Number(value) : value;
  return typeof number === "number" && Number.isFinite(number) ? number : null;
}

// The trail: sightings with a place and a time, oldest first, each marked whether it belongs to
// the alert on the page.
export function trailPoints(sightings, alertId) {
  return (sightings ?? [])
    .map((s) => ({
      id: s.id,
      alert: s.alert,
      current: s.alert === alertId,
      lat: finite(s.latitude),
      lon: finite(s.longitude),
      time: Date.parse(s.captured_at ?? ""),
      capturedAt: s.captured_at,
      camera: s.camera_name || s.camera_code || `camera ${s.camera}`,
      cameraCode: s.camera_code ?? "",
      score: finite(s.score),
    }))
    .filter((p) => p.lat !== null && p.lon !== null && !Number.isNaN(p.time))
    .sort((a, b) => a.time - b.time || a.id - b.id);
}

export function trailSummary(points) {
  if (!points.length) return "No sightings of this person in the alerts you may see.";
  const cameras = new Set(points.map((p) => p.cameraCode || p.camera)).size;
  const sightings = points.length === 1 ? "1 sighting" : `${points.length} sightings`;
  const at = cameras === 1 ? "1 camera" : `${cameras} cameras`;
  return `${sightings} at ${at}, oldest first.`;
}

export function purposeProblem(purpose, what = "viewing") {
  const text = String(purpose ?? "").trim();
  return text.length >= PURPOSE_MIN ? null : `Give the purpose of ${what} (at least ${PURPOSE_MIN} characters).`;
}

// The file name from Content-Disposition (attachment; filename="…"), or a fallback.
export function filenameFrom(disposition, fallback = "evidence.zip") {
  const match = /filename="?([^";]+)"?/i.exec(String(disposition ?? ""));
  const name = match?.[1]?.trim() ?? "";
  return /^[\w.-]+$/.test(name) ? name : fallback;
}
