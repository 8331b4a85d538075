// Cloud mode for the browser app: Cognito identity -> temporary credentials ->
// a SigV4-presigned wss://<iot endpoint>/mqtt URL for IoT Core.  No AWS SDK:
// two JSON calls to Cognito and WebCrypto's HMAC.  The Python twin, checked
// against AWS's published vectors, is components/edgechat/cloud/sigv4.py;
// tests/cloud/test_web_js.py runs both.  main.js uses it when config.cloud is set.
// The MQTT client id must then be the identity id (the IoT policy binds them).

const te = new TextEncoder();

const hex = (buf) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, "0")).join("");

async function sha256Hex(text) {
  return hex(await crypto.subtle.digest("SHA-256", te.encode(text)));
}

async function hmac(key, text) {
  const k = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return crypto.subtle.sign("HMAC", k, te.encode(text));
}

// RFC 3986: encodeURIComponent leaves !'()* alone; SigV4 wants them encoded.
export const uriEncode = (s) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());

export const amzDate = (date) => date.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");

/** Presign GET `url` (host the only signed header); mirrors sigv4.presign. */
export async function presign(url, { region, service, accessKeyId, secretAccessKey, sessionToken,
                                     when, expires, payloadHash, tokenInSignature = true }) {
  const u = new URL(url);
  const scope = `${when.slice(0, 8)}/${region}/${service}/aws4_request`;
  const params = {
    "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
    "X-Amz-Credential": `${accessKeyId}/${scope}`,
    "X-Amz-Date": when,
    "X-Amz-SignedHeaders": "host",
  };
  if (expires !== undefined) params["X-Amz-Expires"] = String(expires);
  if (sessionToken && tokenInSignature) params["X-Amz-Security-Token"] = sessionToken;
  const query = Object.entries(params)
    .map(([k, v]) => [uriEncode(k), uriEncode(v)])
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
  const canonical = ["GET", u.pathname || "/", query, `host:${u.host}`, "", "host",
                     payloadHash ?? (await sha256Hex(""))].join("\n");
  const toSign = ["AWS4-HMAC-SHA256", when, scope, await sha256Hex(canonical)].join("\n");
  let key = te.encode(`AWS4${secretAccessKey}`);
  for (const part of [when.slice(0, 8), region, service, "aws4_request"]) key = await hmac(key, part);
  let out = `${u.protocol}//${u.host}${u.pathname}?${query}&X-Amz-Signature=${hex(await hmac(key, toSign))}`;
  if (sessionToken && !tokenInSignature) out += `&X-Amz-Security-Token=${uriEncode(sessionToken)}`;
  return out;
}

/** IoT Core's MQTT-over-WebSockets URL: the session token goes on after signing. */
export function iotWebSocketUrl({ endpoint, region, accessKeyId, secretAccessKey, sessionToken, date = new Date() }) {
  return presign(`wss://${endpoint}/mqtt`, {
    region, service: "iotdevicegateway", accessKeyId, secretAccessKey, sessionToken,
    when: amzDate(date), expires: 86400, tokenInSignature: false,
  });
}

async function cognito(endpoint, target, body) {
  const r = await fetch(endpoint, {
    method: "POST",
    headers: { "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": `AWSCognitoIdentityService.${target}` },
    body: JSON.stringify(body),
  });
  if (!r.ok) throw new Error(`Cognito ${target}: HTTP ${r.status}`);
  return r.json();
}

/** A Cognito identity (kept in `storage` so a reload keeps its client id) and
 *  its temporary credentials.  `logins` for a signed-in user, else a guest. */
export async function cognitoCredentials({ cognitoEndpoint, identityPoolId, logins, storage = globalThis.localStorage }) {
  const saved = storage?.getItem("edgechat.identityId");
  const identityId = saved || (await cognito(cognitoEndpoint, "GetId", { IdentityPoolId: identityPoolId,
                                                                         ...(logins ? { Logins: logins } : {}) })).IdentityId;
  storage?.setItem("edgechat.identityId", identityId);
  const got = await cognito(cognitoEndpoint, "GetCredentialsForIdentity",
                            { IdentityId: identityId, ...(logins ? { Logins: logins } : {}) });
  const c = got.Credentials;
  return { identityId, accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretKey, sessionToken: c.SessionToken,
           expiration: c.Expiration };
}

/** Cognito's Expiration (epoch seconds, or an ISO date) as epoch milliseconds. */
export function expiryMs(expiration) {
  if (typeof expiration === "number") return expiration < 1e12 ? expiration * 1000 : expiration;
  const parsed = Date.parse(expiration);
  return Number.isFinite(parsed) ? parsed : null;
}

const RENEW_BEFORE_MS = 5 * 60_000;
const RENEW_MIN_MS = 5_000;
const RENEW_UNKNOWN_MS = 30 * 60_000;

/** How long until the app should fetch fresh credentials: five minutes before
 *  they expire, or halfway through if they last less than ten; never in less
 *  than five seconds (a skewed clock must not make it spin). */
export function renewDelayMs(expiresAt, now = Date.now()) {
  if (typeof expiresAt !== "number" || !Number.isFinite(expiresAt)) return RENEW_UNKNOWN_MS;
  const left = expiresAt - now;
  return Math.max(left - RENEW_BEFORE_MS, left / 2, RENEW_MIN_MS);
}

/** From /config.json's `cloud` block to { clientId, url, expiresAt (epoch ms) }
 *  for mqtt.js.  `storage` keeps the identity id (a reload keeps its client id). */
export async function connectParams(cloud, { logins, date, storage } = {}) {
  const creds = await cognitoCredentials({ ...cloud, logins, ...(storage !== undefined ? { storage } : {}) });
  const url = await iotWebSocketUrl({ endpoint: cloud.iotEndpoint, region: cloud.region, ...creds, date });
  return { clientId: creds.identityId, url, expiresAt: expiryMs(creds.expiration) };
}
