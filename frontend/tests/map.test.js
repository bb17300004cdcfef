// Pure functions of the city map (no Leaflet): filters, counts, health summary, popup facts.
import assert from "node:assert/strict";
import { test } from "node:test";

import { cameraFacts, cameraFilter, formatCount, healthSummary, healthTitle, normaliseHealth, statusText } from "../src/map-model.js";

const cameras = [
  { id: 1, zone_id: 3, kind: "fixed", health: "online" },
  { id: 2, zone_id: 3, kind: "vehicle", health: "offline" },
  { id: 3, zone_id: 4, kind: "ptz", health: "unknown" },
  { id: 4, zone_id: 4, kind: "fixed", health: "something-new" },
];

test("cameraFilter: empty values keep everything; zone, kind and health narrow it", () => {
  assert.equal(cameras.filter(cameraFilter({})).length, 4);
  assert.deepEqual(cameras.filter(cameraFilter({ zone: "3" })).map((c) => c.id), [1, 2]);
  assert.deepEqual(cameras.filter(cameraFilter({ zone: "4", kind: "fixed" })).map((c) => c.id), [4]);
  // an unknown health value counts as "unknown"
  assert.deepEqual(cameras.filter(cameraFilter({ health: "unknown" })).map((c) => c.id), [3, 4]);
});

test("statusText and formatCount read well at a glance", () => {
  assert.equal(formatCount(2880), "2,880");
  assert.equal(statusText(2880, 2880), "2,880 cameras");
  assert.equal(statusText(120, 2880), "120 of 2,880 cameras");
  assert.equal(statusText(1, 1), "1 camera");
});

test("healthSummary counts and picks the worst health (a cluster shows its worst member)", () => {
  const { counts, worst } = healthSummary(["online", "unknown", "degraded", "online", "bogus"]);
  assert.deepEqual(counts, { online: 2, degraded: 1, offline: 0, unknown: 2 });
  assert.equal(worst, "degraded");
  assert.equal(healthSummary(["unknown"]).worst, "unknown");
  assert.equal(healthSummary(["online", "offline"]).worst, "offline");
  assert.equal(healthTitle(5, counts), "5 cameras: 2 online, 1 degraded, 2 no stream / unknown");
  assert.equal(normaliseHealth(undefined), "unknown");
});

test("cameraFacts keeps user text as given and leaves missing facts out", () => {
  const hostile = "<img src=x onerror=alert(1)>";
  const rows = cameraFacts(
    {
      code: "cam-1",
      kind: "vehicle",
      zone_name: hostile,
      place: "Swargate bus stand",
      place_category: "transit",
      group: "",
      health: "online",
      last_frame_at: "2026-03-01T10:00:00Z",
      achieved_fps: 0.96,
      has_stream: true,
      heading_deg: 271.6,
      enabled: false,
    },
    new Date("2026-03-01T10:02:00Z"),
  );
  const facts = Object.fromEntries(rows);
  assert.equal(facts.Zone, hostile);
  assert.equal(facts.Kind, "Vehicle-mounted");
  assert.equal(facts.Place, "Swargate bus stand · transit");
  assert.equal(facts.Group, undefined);
  assert.equal(facts["Last frame"], "1 Mar 2026, 15:30:00 IST (2 minutes ago)");
  assert.equal(facts["Frame rate"], "1.0 fps");
  assert.equal(facts.Heading, "272°");
  assert.equal(facts.Enabled, "no");
  assert.equal(facts.Stream, "configured");
});
