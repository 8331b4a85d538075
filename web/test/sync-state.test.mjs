import assert from "node:assert/strict";
import { test } from "node:test";

import { syncLine } from "../src/sync-state.js";

test("offline with a backlog says how many wait", () => {
  assert.deepEqual(syncLine({ connected: false, backlog: 3, synced: false }), {
    status: "offline", text: "Cloud offline: 3 messages waiting to sync",
  });
  assert.equal(syncLine({ connected: false, backlog: 1 }).text, "Cloud offline: 1 message waiting to sync");
});

test("synced only when the Sync component says so", () => {
  assert.equal(syncLine({ connected: true, backlog: 0, synced: true }).text, "Synced with the cloud");
  assert.equal(syncLine({ connected: true, backlog: 5, synced: false }).text, "Syncing: 5 messages waiting to sync");
  assert.equal(syncLine({ connected: true, backlog: 0, synced: false }).status, "syncing");
});

test("a malformed backlog counts as none", () => {
  assert.equal(syncLine({ connected: false, backlog: "x" }).text, "Cloud offline");
});
