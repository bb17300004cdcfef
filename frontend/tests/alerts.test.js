// Pure functions of the live alerts panel: ordering, merging, texts, the audible cue, the purpose
// asked before images, and the audited image URLs.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  categoryLabel,
  compareAlerts,
  countText,
  cuePattern,
  imageUrls,
  mergeAlert,
  normaliseAlert,
  purposeProblem,
  reconnectText,
  scoreText,
  statusLabel,
  wantsCue,
} from "../src/alerts.js";

const at = (minute) => `2026-03-01T10:${String(minute).padStart(2, "0")}:00+05:30`;

test("alerts sort by priority first (1 is highest), then newest first", () => {
  const list = [
    { id: 1, priority: 3, first_seen_at: at(5) },
    { id: 2, priority: 1, first_seen_at: at(1) },
    { id: 3, priority: 3, first_seen_at: at(9) },
    { id: 4, priority: 1, first_seen_at: at(2) },
  ].sort(compareAlerts);
  assert.deepEqual(list.map((a) => a.id), [4, 2, 3, 1]);
});

test("mergeAlert adds, replaces by id and drops closed alerts", () => {
  let list = [];
  list = mergeAlert(list, { id: 1, priority: 2, status: "new", first_seen_at: at(1) });
  list = mergeAlert(list, { id: 2, priority: 1, status: "new", first_seen_at: at(2) });
  assert.deepEqual(list.map((a) => a.id), [2, 1]);
  list = mergeAlert(list, { id: 1, priority: 2, status: "escalated", first_seen_at: at(1) });
  assert.equal(list.length, 2);
  assert.equal(list.find((a) => a.id === 1).status, "escalated");
  list = mergeAlert(list, { id: 2, priority: 1, status: "dismissed", first_seen_at: at(2) });
  assert.deepEqual(list.map((a) => a.id), [1]);
  list = mergeAlert(list, { id: 9, priority: 1, status: "confirmed", first_seen_at: at(3) });
  assert.deepEqual(list.map((a) => a.id), [1]);
});

test("normaliseAlert reads both the event's flat fields and a nested API shape", () => {
  const flat = normaliseAlert({ id: 1, score: 0.9, subject_name: "A", camera_id: 5, priority: 2 });
  assert.equal(flat.score, 0.9);
  assert.equal(flat.camera_id, 5);
  const nested = normaliseAlert({
    id: 2,
    best_score: 0.8,
    subject: { id: 3, full_name: "B" },
    watchlist: { id: 4, name: "W" },
    camera: { id: 6, name: "C", code: "c-6" },
    priority: "1",
  });
  assert.deepEqual(
    [nested.score, nested.subject_id, nested.subject_name, nested.watchlist_name, nested.camera_id, nested.camera_code, nested.priority],
    [0.8, 3, "B", "W", 6, "c-6", 1],
  );
});

test("texts: score against threshold, status, count, reconnect countdown", () => {
  assert.equal(scoreText(0.8123, 0.6), "score 0.81 vs threshold 0.60 (+0.21)");
  assert.equal(scoreText(0.55, 0.6), "score 0.55 vs threshold 0.60 (−0.05)");
  assert.equal(scoreText(undefined, 0.6), "score unknown");
  assert.equal(statusLabel("pending_verification"), "Awaiting verification");
  assert.equal(statusLabel("escalated"), "Escalated");
  assert.equal(categoryLabel("missing_person"), "Missing person");
  assert.equal(categoryLabel(undefined), "");
  assert.equal(countText(0), "No open alerts");
  assert.equal(countText(1), "1 open alert");
  assert.equal(countText(12), "12 open alerts");
  assert.equal(reconnectText(10_500, 4_000), "Live alerts down: reconnecting in 7 s…");
  assert.equal(reconnectText(1_000, 4_000), "Live alerts down: reconnecting…");
});

test("the audible cue: new alerts and fresh escalations; more insistent for high priority", () => {
  assert.equal(wantsCue("alert.created", { status: "new" }), true);
  assert.equal(wantsCue("alert.updated", { status: "acknowledged" }, { status: "new" }), false);
  assert.equal(wantsCue("alert.updated", { status: "escalated" }, { status: "new" }), true);
  assert.equal(wantsCue("alert.updated", { status: "escalated" }, { status: "escalated" }), false);
  assert.equal(cuePattern(1).length, 3);
  assert.equal(cuePattern(3).length, 2);
  assert.equal(cuePattern(7).length, 1);
  assert.ok(cuePattern(1)[1].start > cuePattern(1)[0].start + cuePattern(1)[0].duration);
});

test("images need a purpose and go through the audited routes, never with the purpose in the URL", () => {
  assert.match(purposeProblem("  ab "), /at least 5/);
  assert.equal(purposeProblem("FIR 55/2026 check"), null);
  const urls = imageUrls({ probeUrl: "/api/v1/alerts/12/probe/", photoUrl: "/api/v1/alerts/12/enrolled/" });
  assert.deepEqual(urls, { probe: "/api/v1/alerts/12/probe/", photo: "/api/v1/alerts/12/enrolled/" });
  assert.deepEqual(imageUrls({ probeUrl: null, photoUrl: "" }), { probe: null, photo: null });
});
