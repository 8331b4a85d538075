// Message ids are ULIDs made here, once, at the origin: resending the same id
// is idempotent all the way to the store (a retry never doubles a message).
const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

export function ulid(now = Date.now()) {
  let time = "";
  for (let i = 0, t = now; i < 10; i += 1, t = Math.floor(t / 32)) {
    time = CROCKFORD[t % 32] + time;
  }
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  let random = "";
  for (let i = 0; i < 16; i += 1) random += CROCKFORD[bytes[i] % 32];
  return time + random;
}
