// Pure helpers of the alert page: buttons by state, the two-person rule in words, history lines,
// the sighting trail in time order, and the evidence export's URL and file name.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  actionsFor,
  filenameFrom,
  historyText,
  peopleText,
  purposeProblem,
  trailPoints,
  trailSummary,
  twoPersonText,
} from "../src/alert-model.js";

const OFFICER = ["acknowledge", "confirm", "verify", "dismiss", "escalate"];

test("actionsFor offers what the role may do and the state allows", () => {
  assert.deepEqual(actionsFor({ status: "new" }, OFFICER), ["acknowledge", "confirm", "dismiss", "escalate"]);
  assert.deepEqual(actionsFor({ status: "acknowledged" }, OFFICER), ["confirm", "dismiss", "escalate"]);
  assert.deepEqual(actionsFor({ status: "pending_verification" }, OFFICER), ["verify", "dismiss"]);
  assert.deepEqual(actionsFor({ status: "confirmed" }, OFFICER), []);
  assert.deepEqual(actionsFor({ status: "dismissed" }, OFFICER), []);
  assert.deepEqual(actionsFor({ status: "new" }, ["escalate"]), ["escalate"]); // a commissioner
  assert.deepEqual(actionsFor({ status: "pending_verification" }, ["escalate"]), []);
  assert.deepEqual(actionsFor({ status: "new" }, []), []); // an auditor
  assert.deepEqual(actionsFor(null, OFFICER), []);
});

test("the two-person rule names who confirmed and who must verify", () => {
  const pending = { status: "pending_verification", confirmed_by: "asha" };
  assert.equal(
    twoPersonText(pending, "ravi"),
    "Confirmed by asha. Awaiting verification by an officer other than asha.",
  );
  assert.match(twoPersonText(pending, "asha"), /You confirmed it: another officer or supervisor must verify it\.$/);
  assert.equal(
    twoPersonText({ status: "confirmed", confirmed_by: "asha", verified_by: "ravi" }, "asha"),
    "Confirmed by asha and verified by ravi: two officers agreed.",
  );
  assert.match(twoPersonText({ status: "dismissed", confirmed_by: "asha" }), /not upheld/);
  assert.match(twoPersonText({ status: "dismissed" }), /^Dismissed/);
  assert.match(twoPersonText({ status: "new" }), /second officer verifies/);
});

test("peopleText and historyText read as sentences, the system included", () => {
  assert.equal(peopleText({}), "not claimed");
  assert.equal(peopleText({ assignee: "a", confirmed_by: "a", verified_by: "b" }), "claimed by a · confirmed by a · verified by b");
  assert.equal(historyText({ actor: "asha", action: "confirm", reason: "" }), "asha confirmed");
  assert.equal(historyText({ actor: null, action: "escalate", reason: "Not acknowledged within 60 s" }), "the system escalated: Not acknowledged within 60 s");
  assert.equal(historyText({ actor: "ravi", action: "dismiss", reason: "  <b>not him</b> " }), "ravi dismissed: <b>not him</b>");
});

test("trailPoints orders by time, drops sightings without a place and marks the alert's own", () => {
  const sightings = [
    { id: 3, alert: 7, camera: 1, camera_code: "c-1", camera_name: "Station", captured_at: "2026-03-01T10:05:00+05:30", latitude: 18.5, longitude: 73.8, score: 0.95 },
    { id: 1, alert: 5, camera: 2, camera_code: "c-2", camera_name: "", captured_at: "2026-03-01T10:01:00+05:30", latitude: "18.6", longitude: "73.9", score: 0.93 },
    { id: 2, alert: 7, camera: 1, camera_code: "c-1", camera_name: "Station", captured_at: "2026-03-01T10:03:00+05:30", latitude: null, longitude: 73.8 },
    { id: 4, alert: 7, camera: 1, captured_at: "not a time", latitude: 18.5, longitude: 73.8 },
  ];
  const points = trailPoints(sightings, 7);
  assert.deepEqual(points.map((p) => p.id), [1, 3]);
  assert.equal(points[0].current, false);
  assert.equal(points[0].camera, "c-2");
  assert.equal(points[0].lat, 18.6);
  assert.equal(points[1].current, true);
  assert.equal(trailSummary(points), "2 sightings at 2 cameras, oldest first.");
  assert.equal(trailSummary(points.slice(0, 1)), "1 sighting at 1 camera, oldest first.");
  assert.match(trailSummary([]), /^No sightings/);
  assert.deepEqual(trailPoints(undefined, 1), []);
});

test("purpose and file name", () => {
  assert.match(purposeProblem("why", "the export"), /purpose of the export/);
  assert.equal(purposeProblem("  court case 12  "), null);
  assert.equal(filenameFrom('attachment; filename="alert-4-evidence-20260301T101010Z.zip"'), "alert-4-evidence-20260301T101010Z.zip");
  assert.equal(filenameFrom('attachment; filename="../../etc/passwd"'), "evidence.zip");
  assert.equal(filenameFrom(null, "x.zip"), "x.zip");
});
