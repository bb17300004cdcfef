// Unit tests of the evaluation page's pure functions (`npm test`).
import assert from "node:assert/strict";
import { test } from "node:test";

import { percentText, previewText } from "../src/evaluation.js";

test("percentText: two decimals from 1% up, two significant digits below, as the report does", () => {
  assert.equal(percentText(0.8533), "85.33%");
  assert.equal(percentText(0.00088), "0.088%");
  assert.equal(percentText(0.0000123), "0.0012%");
  assert.equal(percentText(0), "0%");
  assert.equal(percentText(null), "—");
});

test("previewText names the change, the expected FPIR with its bound, and a clamp", () => {
  const preview = {
    current_threshold: 0.92, threshold: 0.9333, threshold_measured: 0.9333, clamped: false, gallery_size: 2,
    target_fpir: 0.001, far_required: 0.00050025, fpir_expected: 0.000999, fpir_upper: 0.00106,
  };
  assert.equal(
    previewText(preview),
    "Threshold 0.9200 → 0.9333 for FPIR 0.001 on a list of 2 templates: expected FPIR 0.100% (at most 0.11% at 95% confidence); " +
      "per-comparison false-accept rate needed 0.000500.",
  );
  const clamped = previewText({ ...preview, gallery_size: 1, threshold: 0.97, threshold_measured: 0.9812, clamped: true });
  assert.match(clamped, /list of 1 template:/);
  assert.match(clamped, /give 0\.9812, outside the allowed bounds; 0\.9700 would be set\.$/);
});
