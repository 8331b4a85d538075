// What the app keeps on the device (docs/web.md lists these keys):
// - localStorage  "edgechat.nick":    the nickname, shared by every tab;
// - sessionStorage "edgechat.session": this tab's broker credentials, so a
//   reload reuses its client id (sessionStorage is per tab);
// - sessionStorage "edgechat.outbox":  messages not yet acknowledged, so a
//   reload does not lose what was typed while offline;
// - sessionStorage "edgechat.identityId": cloud mode only, this tab's Cognito
//   identity id (its client id), written and read by iot-url.js.
const NICK = "edgechat.nick";
const SESSION = "edgechat.session";
const OUTBOX = "edgechat.outbox";

function read(store, key) {
  try {
    const raw = store.getItem(key);
    return raw === null ? null : JSON.parse(raw);
  } catch {
    return null; // storage disabled, or junk in it: start afresh
  }
}

function write(store, key, value) {
  try {
    if (value === null) store.removeItem(key);
    else store.setItem(key, JSON.stringify(value));
  } catch {
    // Private mode or full storage: the app still works, it just forgets.
  }
}

export const loadNick = () => {
  const nick = read(localStorage, NICK);
  return typeof nick === "string" ? nick : null;
};
export const saveNick = (nick) => write(localStorage, NICK, nick);

export const loadSession = () => {
  const s = read(sessionStorage, SESSION);
  return s && typeof s.clientId === "string" && typeof s.password === "string" ? s : null;
};
export const saveSession = (session) => write(sessionStorage, SESSION, session);

export const loadOutbox = () => {
  const items = read(sessionStorage, OUTBOX);
  return Array.isArray(items) ? items.filter((m) => m && typeof m.id === "string") : [];
};
export const saveOutbox = (items) => write(sessionStorage, OUTBOX, items.length ? items : null);

// Cloud mode: where iot-url.js keeps the tab's Cognito identity id.  Per tab,
// like the edge's session, so two tabs are two clients.
const IDENTITY = "edgechat.identityId";
export const identityStore = {
  getItem(key) {
    try {
      return sessionStorage.getItem(key);
    } catch {
      return null;
    }
  },
  setItem(key, value) {
    try {
      sessionStorage.setItem(key, value);
    } catch {
      // no storage: a reload gets a new identity
    }
  },
};
export const forgetIdentity = () => {
  try {
    sessionStorage.removeItem(IDENTITY);
  } catch {
    // nothing kept, nothing to forget
  }
};
