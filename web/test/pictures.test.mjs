// The pure parts of pictures.js: what a message's attachments may hold, and
// the tag cloud at a confidence threshold.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  attachmentRef, authorization, cloudTags, labelsOf, pictureUrl, picturesOf, setPicturesBase, thumbUrl,
} from "../src/pictures.js";

const SHA = "ab".repeat(32);
const OTHER = "cd".repeat(32);
const picture = (over = {}) => ({
  kind: "picture", sha256: SHA, type: "image/jpeg", bytes: 100, width: 451, height: 300,
  thumbnail: { type: "image/jpeg", width: 320, height: 213 }, ...over,
});

test("only well-formed pictures are shown", () => {
  const message = {
    attachments: [picture(), picture({ sha256: "../../x" }), picture({ type: "image/svg+xml" }),
      picture({ kind: "file" }), null, "x", picture({ sha256: OTHER, width: -1, labels: [{ name: "Cat", confidence: 90 }] })],
  };
  const shown = picturesOf(message);
  assert.deepEqual(shown.map((p) => p.sha256), [SHA, OTHER]);
  assert.equal(shown[1].width, null);
  assert.deepEqual(shown[1].labels, [{ name: "Cat", confidence: 90 }]);
  assert.deepEqual(picturesOf({ text: "no pictures" }), []);
  assert.equal(picturesOf({ attachments: Array(9).fill(picture()) }).length, 4);
});

test("labels come from history or from Rekognition-shaped events", () => {
  assert.deepEqual(labelsOf([{ Name: "Cup", Confidence: 95 }, { name: "Coffee", confidence: 84 }, { Name: 3 }]),
    [{ name: "Cup", confidence: 95 }, { name: "Coffee", confidence: 84 }]);
  assert.deepEqual(labelsOf("nope"), []);
});

test("an upload's answer becomes the reference a message carries", () => {
  const ref = attachmentRef({ ...picture(), url: "/pictures/x", thumbnailUrl: "/y", labels: [] });
  assert.deepEqual(Object.keys(ref).sort(), ["bytes", "height", "kind", "sha256", "thumbnail", "type", "width"]);
  assert.equal(attachmentRef({ sha256: "nope" }), null);
});

test("the tag cloud: counts, sizes by count, a stricter threshold", () => {
  const cloud = {
    type: "tagcloud", minConfidence: 50,
    tags: [
      { label: "Cat", count: 3, pictures: [{ picture: SHA, confidence: 94 }, { picture: OTHER, confidence: 60 }, { picture: "ef".repeat(32), confidence: 55 }] },
      { label: "Animal", count: 1, pictures: [{ picture: SHA, confidence: 97 }] },
      { label: "", count: 9, pictures: [] },
      { label: "<b>x</b>", count: 1, pictures: [{ picture: "bad", confidence: 99 }] },
    ],
  };
  const tags = cloudTags(cloud);
  assert.deepEqual(tags.map((t) => [t.label, t.count]), [["<b>x</b>", 1], ["Animal", 1], ["Cat", 3]]);
  const [, animal, cat] = tags;
  assert.ok(cat.em > animal.em, "the commoner label is bigger");
  assert.deepEqual(cat.pictures, [SHA, OTHER, "ef".repeat(32)]);
  const strict = cloudTags(cloud, 90);
  assert.deepEqual(strict.map((t) => [t.label, t.count, t.pictures]), [["Animal", 1, [SHA]], ["Cat", 1, [SHA]]]);
  assert.deepEqual(cloudTags(null), []);
});

test("uploads carry the edge session's credential; cloud sessions have none", () => {
  assert.equal(authorization({ username: "abc", password: "pw" }), `Basic ${btoa("abc:pw")}`);
  assert.equal(authorization({ clientId: "eu-west-1:x" }), null);
  assert.equal(authorization(null), null);
});

test("pictures come from config.picturesUrl, a path on the page's own origin", () => {
  assert.equal(thumbUrl(SHA), `/pictures/${SHA}/thumb`); // the edge's, by default
  assert.equal(setPicturesBase("/cloud/pictures/"), "/cloud/pictures/");
  assert.equal(pictureUrl(SHA), `/cloud/pictures/${SHA}`);
  assert.equal(thumbUrl(SHA), `/cloud/pictures/${SHA}/thumb`);
  // anything that could point elsewhere falls back to the default
  for (const bad of ["https://evil.example/", "//evil.example/", "/\\evil.example/", "javascript:x/", "/pictures", 7, undefined]) {
    assert.equal(setPicturesBase(bad), "/pictures/", String(bad));
  }
  assert.equal(pictureUrl(SHA), `/pictures/${SHA}`);
});
