// stream.js's pure parts, without a browser: node --test (run by tests/web/test_js_units.py).
import assert from "node:assert/strict";
import { test } from "node:test";

import { seenText } from "../src/stream.js";

test("seen-by names up to three readers, sorted, then counts the rest", () => {
  assert.equal(seenText(["Bob"]), "Seen by Bob");
  assert.equal(seenText(["Cy", "Ann"]), "Seen by Ann, Cy");
  assert.equal(seenText(["Dee", "Cy", "Bob", "Ann"]), "Seen by Ann, Bob, Cy and 1 other");
  assert.equal(seenText(["Eve", "Dee", "Cy", "Bob", "Ann"]), "Seen by Ann, Bob, Cy and 2 others");
});
