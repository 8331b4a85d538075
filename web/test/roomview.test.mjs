// The app's pure parts, without a browser: node --test (run by tests/web/test_js_units.py).
import assert from "node:assert/strict";
import { test } from "node:test";

import { ulid } from "../src/ids.js";
import { parseNick, parseRoom, roomFromHash, roomHash } from "../src/names.js";
import { RoomView } from "../src/roomview.js";

const msg = (seq, id = `m${seq}`) => ({ id, seq, room: "r", orderKey: `k${String(seq).padStart(4, "0")}` });

test("a message shown twice is kept once", () => {
  const view = new RoomView("r");
  view.loaded = true;
  assert.equal(view.add(msg(1)).added, true);
  assert.equal(view.add(msg(1)).added, false);
  assert.deepEqual(view.sorted().map((m) => m.id), ["m1"]);
});

test("a jump in seq asks for a backfill from the last seen", () => {
  const view = new RoomView("r");
  view.loaded = true;
  view.add(msg(1));
  view.add(msg(2));
  assert.equal(view.add(msg(5)).gapAfter, 2);
  assert.equal(view.add(msg(3)).gapAfter, null); // filling in is not a gap
  assert.equal(view.maxSeq, 5);
  assert.equal(view.oldestSeq, 1);
});

test("no gap is reported before the first history page", () => {
  const view = new RoomView("r");
  assert.equal(view.add(msg(40)).gapAfter, null);
});

test("display order is the order key, whatever the arrival order", () => {
  const view = new RoomView("r");
  for (const seq of [3, 1, 2]) view.add(msg(seq));
  assert.deepEqual(view.sorted().map((m) => m.seq), [1, 2, 3]);
});

test("an ack-built message is completed by the broadcast", () => {
  const view = new RoomView("r");
  view.add({ ...msg(1), nick: "local" });
  view.add({ ...msg(1), nick: "server", site: "edge" });
  assert.equal(view.byId.get("m1").nick, "server");
});

test("room names follow the server's rule", () => {
  assert.deepEqual(parseRoom("  Lobby "), ["lobby", null]);
  for (const bad of ["", "-x", "a/b", "<img src=x onerror=alert(1)>", "x".repeat(65), "caf\u00e9"]) {
    assert.equal(parseRoom(bad)[0], null, bad);
  }
  assert.equal(roomFromHash(roomHash("team-1")), "team-1");
  assert.equal(roomFromHash("#/room/%3Cscript%3E"), "<script>");
  assert.equal(roomFromHash("#/room/%E0%A4%A"), "%E0%A4%A");
  assert.equal(roomFromHash("#/other"), null);
});

test("nicks: trimmed, bounded, no control or bidi characters", () => {
  assert.deepEqual(parseNick("  Ann "), ["Ann", null]);
  assert.equal(parseNick("<b>ok</b>")[0], "<b>ok</b>"); // markup is just text
  for (const bad of ["", "   ", "x".repeat(33), "a\u202eb", "a\nb"]) assert.equal(parseNick(bad)[0], null);
});

test("message ids are ULIDs the server accepts, unique and time-ordered", () => {
  const ids = new Set(Array.from({ length: 1000 }, () => ulid()));
  assert.equal(ids.size, 1000);
  for (const id of ids) assert.match(id, /^[0-9A-HJKMNP-TV-Z]{26}$/);
  assert.ok(ulid(1_000) < ulid(2_000));
});
