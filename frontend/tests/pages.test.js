// Unit tests of the operations and statistics pages' pure functions (`npm test`).
import assert from "node:assert/strict";
import { test } from "node:test";

import { isoToIstInput, istToIso, refusalSentence, splitList } from "../src/operations.js";
import { chartLayout, CHART, dayLabel, niceCeiling, panelHeadline, percentText } from "../src/stats.js";

test("istToIso reads a datetime-local value as IST; isoToIstInput writes one back", () => {
  assert.equal(istToIso("2026-11-26T10:30"), "2026-11-26T10:30:00+05:30");
  assert.equal(istToIso("2026-11-26T10:30:15"), "2026-11-26T10:30:15+05:30");
  assert.equal(istToIso(""), null);
  assert.equal(istToIso("tomorrow"), null);
  assert.equal(isoToIstInput(new Date("2026-11-26T00:00:00Z")), "2026-11-26T05:30");
  assert.equal(new Date(istToIso(isoToIstInput(new Date("2026-11-26T20:45:00Z")))).toISOString(), "2026-11-26T20:45:00.000Z");
});

test("splitList splits on commas, semicolons and spaces and drops repeats", () => {
  assert.deepEqual(splitList(" PUN-1, PUN-2;PUN-1  PUN-3 "), ["PUN-1", "PUN-2", "PUN-3"]);
  assert.deepEqual(splitList(null), []);
});

test("refusalSentence gives the service's sentence, labelled field errors, and what extra names", () => {
  assert.equal(
    refusalSentence({ code: "self_authorisation", message: "You requested this operation; someone else must authorise it." }, 403),
    "You requested this operation; someone else must authorise it.",
  );
  assert.equal(
    refusalSentence({ message: "The request was not valid.", errors: { watchlists: ["This list may not be empty."], starts_at: ["Required."] } }, 400),
    "Watchlists: This list may not be empty. Start: Required.",
  );
  assert.equal(
    refusalSentence({ code: "unknown_camera_group", message: "No camera belongs to that group.", groups: ["stations"] }, 400),
    "No camera belongs to that group: stations.",
  );
  assert.equal(refusalSentence({}, 429), "Too many requests: wait a minute and try again.");
  assert.equal(refusalSentence(undefined, 502), "The request failed (HTTP 502).");
});

test("niceCeiling rounds up to 1, 2 or 5 times a power of ten", () => {
  assert.deepEqual([0, 1, 3, 7, 12, 20, 51, 480].map(niceCeiling), [1, 1, 5, 10, 20, 20, 100, 500]);
});

test("percentText and dayLabel", () => {
  assert.equal(percentText(null), "—");
  assert.equal(percentText(2 / 3), "67%");
  assert.equal(dayLabel("2026-11-06"), "6 Nov");
});

test("chartLayout stacks confirmed, dismissed and open, scaled to a nice top, and places rate points", () => {
  const days = [
    { date: "2026-11-25", alerts: 4, confirmed: 1, dismissed: 1, confirmed_rate: 0.5 },
    { date: "2026-11-26", alerts: 0, confirmed: 0, dismissed: 0, confirmed_rate: null },
  ];
  const layout = chartLayout(days);
  assert.equal(layout.top, 5);
  const [first, second] = layout.bars;
  assert.deepEqual(first.segments.map((s) => [s.kind, s.value]), [["confirmed", 1], ["dismissed", 1], ["open", 2]]);
  const height = first.segments.reduce((sum, s) => sum + s.height, 0);
  assert.ok(Math.abs(height - (4 / 5) * layout.plotHeight) < 1e-9);
  assert.equal(first.segments[0].y + first.segments[0].height, layout.baseline); // confirmed sits on the axis
  assert.deepEqual(second.segments, []);
  assert.equal(layout.points.length, 1); // nothing decided on the second day: no point
  assert.equal(layout.points[0].y, layout.baseline - 0.5 * layout.plotHeight);
  assert.ok(second.x > first.x && second.x + second.width <= CHART.width - CHART.right);
});

test("panelHeadline reads at a glance", () => {
  assert.equal(
    panelHeadline("North", { alerts: 3, confirmed: 2, dismissed: 1, confirmed_rate: 2 / 3 }, 5, 6),
    "North: 3 alerts, 2 confirmed, 1 dismissed, confirmed rate 67%; cameras online 5 of 6",
  );
});
