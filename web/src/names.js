// The same rules as edgechat.core.names, so the app can explain a bad name
// before sending it (the server checks again).
const ROOM_RE = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const NICK_MAX = 32;
// Control characters and bidi overrides/isolates ("Trojan Source").
const BAD_NICK_RE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

/** Returns [room, null] or [null, why]. */
export function parseRoom(raw) {
  const room = String(raw).trim().toLowerCase();
  if (!ROOM_RE.test(room)) {
    return [null, "Room names are 1–64 characters: a–z, 0–9, _ and -, starting with a letter or digit."];
  }
  return [room, null];
}

/** Returns [nick, null] or [null, why]. */
export function parseNick(raw) {
  const nick = String(raw).normalize("NFC").trim();
  if (!nick) return [null, "Please choose a nickname."];
  if (nick.length > NICK_MAX) return [null, `At most ${NICK_MAX} characters.`];
  if (BAD_NICK_RE.test(nick)) return [null, "No control or direction-changing characters, please."];
  return [nick, null];
}

/** The room named in a location hash such as "#/room/lobby", or null. */
export function roomFromHash(hash) {
  const match = /^#\/room\/(.*)$/.exec(hash);
  if (!match) return null;
  try {
    return decodeURIComponent(match[1]);
  } catch {
    return match[1];
  }
}

export const roomHash = (room) => `#/room/${encodeURIComponent(room)}`;
