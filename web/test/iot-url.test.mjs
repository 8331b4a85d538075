// Cloud mode's pure parts (web/src/iot-url.js): credential lifetimes, and the
// Cognito calls with a stand-in fetch.  The signature itself is checked against
// AWS's vectors and the Python presigner by tests/cloud/test_web_js.py.
import assert from "node:assert/strict";
import { test } from "node:test";

import { connectParams, expiryMs, renewDelayMs } from "../src/iot-url.js";

test("Cognito's Expiration becomes epoch milliseconds", () => {
  assert.equal(expiryMs(1_800_000_000), 1_800_000_000_000);
  assert.equal(expiryMs(1_800_000_000_000), 1_800_000_000_000);
  assert.equal(expiryMs("2026-11-29T12:00:00Z"), Date.parse("2026-11-29T12:00:00Z"));
  assert.equal(expiryMs("soon"), null);
  assert.equal(expiryMs(undefined), null);
});

test("renewal comes five minutes early, halfway for short lives, never in a spin", () => {
  const now = 1_000_000;
  assert.equal(renewDelayMs(now + 3_600_000, now), 3_300_000);
  assert.equal(renewDelayMs(now + 240_000, now), 120_000);
  assert.equal(renewDelayMs(now + 12_000, now), 6_000);
  assert.equal(renewDelayMs(now - 60_000, now), 5_000); // expired, or a skewed clock
  assert.equal(renewDelayMs(null, now), 1_800_000); // unknown: half an hour
});

function fakeCognito() {
  const calls = [];
  const fetch = async (url, init) => {
    const target = init.headers["X-Amz-Target"].split(".")[1];
    calls.push({ url, target, body: JSON.parse(init.body) });
    const body = target === "GetId"
      ? { IdentityId: "eu-west-1:0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0" }
      : { IdentityId: "eu-west-1:0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
          Credentials: { AccessKeyId: "ASIA1", SecretKey: "s", SessionToken: "t/+=", Expiration: 1_800_000_000 } };
    return { ok: true, status: 200, json: async () => body };
  };
  return { calls, fetch };
}

function memoryStorage() {
  const items = new Map();
  return { items, getItem: (k) => items.get(k) ?? null, setItem: (k, v) => items.set(k, String(v)) };
}

test("connectParams: identity kept in the given storage, id used as the client id", async (t) => {
  const cognito = fakeCognito();
  t.mock.method(globalThis, "fetch", cognito.fetch);
  const storage = memoryStorage();
  const cloud = { region: "eu-west-1", iotEndpoint: "abc-ats.iot.eu-west-1.amazonaws.com",
                  identityPoolId: "eu-west-1:pool", cognitoEndpoint: "https://cognito.example" };
  const first = await connectParams(cloud, { storage, date: new Date("2026-11-29T12:00:00Z") });
  assert.equal(first.clientId, "eu-west-1:0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0");
  assert.equal(first.expiresAt, 1_800_000_000_000);
  assert.match(first.url, /^wss:\/\/abc-ats\.iot\.eu-west-1\.amazonaws\.com\/mqtt\?X-Amz-Algorithm=AWS4-HMAC-SHA256&/);
  assert.match(first.url, /X-Amz-Date=20261129T120000Z/);
  assert.ok(first.url.endsWith("&X-Amz-Security-Token=t%2F%2B%3D"));
  assert.equal(storage.items.get("edgechat.identityId"), first.clientId);
  assert.deepEqual(cognito.calls.map((c) => c.target), ["GetId", "GetCredentialsForIdentity"]);
  assert.deepEqual(cognito.calls[0].body, { IdentityPoolId: "eu-west-1:pool" });
  // A renewal: same identity, no new GetId.
  const again = await connectParams(cloud, { storage });
  assert.equal(again.clientId, first.clientId);
  assert.deepEqual(cognito.calls.map((c) => c.target), ["GetId", "GetCredentialsForIdentity", "GetCredentialsForIdentity"]);
});
