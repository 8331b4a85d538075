// The page's merge of edits and deletes (web/src/revisions.js): the same
// outcome whatever order the events arrive in, as in the store.
import assert from "node:assert/strict";
import { test } from "node:test";

import { applyRevision } from "../src/revisions.js";

const message = { id: "m1", room: "lobby", text: "helo", orderKey: "0001!edge!m1" };
const edit = (key, text) => ({ type: "messageEdited", target: "m1", room: "lobby", orderKey: key, text });
const removed = { type: "messageRemoved", target: "m1", room: "lobby", orderKey: "0009!edge!d1" };

function replay(events) {
  let m = message;
  for (const e of events) m = applyRevision(m, e) || m;
  return m;
}

function permutations(items) {
  if (items.length <= 1) return [items];
  return items.flatMap((x, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((p) => [x, ...p]));
}

test("the latest edit wins in any order", () => {
  const edits = [edit("0002!edge!e1", "hello"), edit("0004!edge!e3", "hello all"), edit("0003!edge!e2", "hi")];
  for (const order of permutations(edits)) {
    const m = replay(order);
    assert.equal(m.text, "hello all");
    assert.equal(m.edited, true);
  }
});

test("a delete is final, before or after any edit", () => {
  for (const order of permutations([edit("0002!edge!e1", "hello"), removed, edit("0010!edge!e2", "back?")])) {
    const m = replay(order);
    assert.deepEqual([m.text, m.deleted], ["", true]);
  }
});

test("unknown or malformed events change nothing", () => {
  assert.equal(applyRevision(message, { type: "messageEdited", target: "m1", text: 5, orderKey: "1" }), null);
  assert.equal(applyRevision(message, { type: "messageEdited", target: "m1", text: "x" }), null);
  assert.equal(applyRevision(message, { type: "eval", code: "x" }), null);
  assert.equal(applyRevision(undefined, removed), null);
});
