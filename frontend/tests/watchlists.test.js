// Unit tests of the pages' pure functions, with node's own test runner (`npm test`).
import assert from "node:assert/strict";
import { test } from "node:test";

import { auditedReadInit, describeError, endOfDay, splitAliases } from "../src/watchlists.js";
import { formatTime, relativeTime, summaryText } from "../src/audit.js";

test("describeError prefers the API's sentence, lists field errors, explains throttling", () => {
  assert.equal(describeError({ code: "no_face", message: "No face was found in the photo." }, 422), "No face was found in the photo.");
  assert.equal(
    describeError({ code: "invalid", message: "The request was not valid.", errors: { zone: ["Invalid pk."], name: "Required." } }, 400),
    "zone: Invalid pk.; name: Required.",
  );
  assert.equal(describeError({}, 429), "Too many requests: wait a minute and try again.");
  assert.equal(describeError(null, 502), "The request failed (HTTP 502).");
});

test("splitAliases trims and drops empty parts", () => {
  assert.deepEqual(splitAliases(" Ravya ; ; R. Kale;"), ["Ravya", "R. Kale"]);
  assert.deepEqual(splitAliases(""), []);
});

test("endOfDay is the last second of the chosen local day", () => {
  const end = new Date(endOfDay("2027-03-31"));
  assert.equal(end.getFullYear(), 2027);
  assert.equal(end.getMonth(), 2);
  assert.equal(end.getDate(), 31);
  assert.equal(end.getHours(), 23);
  assert.equal(end.getMinutes(), 59);
});

test("formatTime shows Asia/Kolkata time", () => {
  // 00:00 UTC is 05:30 in India.
  assert.match(formatTime(new Date("2026-11-26T00:00:00Z")), /05:30.*IST$/);
});

test("relativeTime says just now, then minutes, hours and days", () => {
  const now = new Date("2026-11-26T12:00:00Z");
  assert.equal(relativeTime(new Date("2026-11-26T11:59:58Z"), now), "just now");
  assert.equal(relativeTime(new Date("2026-11-26T11:55:00Z"), now), "5 minutes ago");
  assert.equal(relativeTime(new Date("2026-11-26T09:00:00Z"), now), "3 hours ago");
  assert.equal(relativeTime(new Date("2026-11-24T12:00:00Z"), now), "2 days ago");
});

test("summaryText renders values as plain text, nested ones as JSON", () => {
  assert.equal(summaryText({ removed: 2, kind: "<b>x</b>", changed: { a: 1 } }), 'removed: 2; kind: <b>x</b>; changed: {"a":1}');
  assert.equal(summaryText(null), "");
  assert.equal(summaryText("text"), "text");
});

test("an audited read is a POST with the purpose in the body and the CSRF token, never a URL", () => {
  const init = auditedReadInit("  FIR 5/2026 & check ", "tok123");
  assert.equal(init.method, "POST");
  assert.equal(init.credentials, "same-origin");
  assert.equal(init.headers["X-CSRFToken"], "tok123");
  assert.equal(init.headers["Content-Type"], "application/json");
  assert.deepEqual(JSON.parse(init.body), { purpose: "FIR 5/2026 & check" });
});
