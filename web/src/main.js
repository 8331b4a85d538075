// The browser app: wiring between the page, the MQTT connection and the
// per-room state.  Protocol: docs/protocol.md; what is stored where: docs/web.md.
import { Connection } from "./connection.js";
import { ulid } from "./ids.js";
import { connectParams, renewDelayMs } from "./iot-url.js";
import { parseNick, parseRoom, roomFromHash, roomHash } from "./names.js";
import { PictureUi, SITE_TOPIC, pictureStrip, setPicturesBase } from "./pictures.js";
import { Control } from "./control.js";
import { ModConsole } from "./console.js";
import { Lifecycle } from "./lifecycle.js";
import { RoomView } from "./roomview.js";
import * as storage from "./storage.js";
import { StreamUi } from "./stream.js";
import { SYNC_STATE_TOPIC, SyncIndicator } from "./sync-state.js";
import { $, MessageList, renderMembers, renderRooms } from "./view.js";

const ACK_TIMEOUT_MS = 10_000;
const ROOMS_EVERY_MS = 15_000;
const SERVER_RETRY_MS = 1_500;
const MAX_SERVER_RETRIES = 5;
const PAGE = 50;
// The Router allows a burst of 20 requests, then 5/s (docs/protocol.md).
const FLUSH_AT_ONCE = 10;
const FLUSH_EVERY_MS = 250;

const app = {
  config: null,
  session: null,
  nick: null,
  conn: null,
  status: "connecting",
  welcomed: false,
  site: null,
  room: null,
  views: new Map(), // room -> RoomView
  outbox: [], // {id, room, text, ts, state: queued|pending|failed, tries, error?}
  requests: new Map(), // requestId -> {kind, room, params}
  nextRequest: 1,
  timers: new Map(), // message id -> ack timeout
  roomsTimer: null,
  renewTimer: null, // cloud mode: fresh credentials before these expire
  knownRooms: [],
};

let messages; // MessageList
let control; // Control: typed events from the system (notice, muted, banned...)
let lifecycle; // Lifecycle: reply, edit, delete
let modConsole; // ModConsole: moderator sign-in and the operator's console
let pictures; // PictureUi: attach, thumbnails, the tag cloud
let stream; // StreamUi: typing, reactions, device readings
let syncState; // SyncIndicator: this site's link to the cloud (docs/sync.md)

const me = () => (app.session ? app.session.clientId : null);
const viewOf = (room) => {
  if (!app.views.has(room)) app.views.set(room, new RoomView(room));
  return app.views.get(room);
};
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const canSend = () => Boolean(app.conn && app.conn.connected && app.welcomed);
// Cloud mode proper: Cognito and a presigned URL instead of POST /api/session.
// (The local cloud, cloud.local, hands out broker logins like an edge site.)
const viaCognito = () => Boolean(app.config && app.config.cloud && !app.config.cloud.local);
const inCloud = () => Boolean(app.config && app.config.mode === "cloud");

// ---- banner

const BANNER = {
  connecting: () => "Connecting…",
  connected: () => (inCloud() ? "Connected to the cloud" : `Connected to this site${app.site ? ` (${app.site})` : ""}`),
  reconnecting: (d) => (d && d.inMs ? `Reconnecting… next try in ${Math.ceil(d.inMs / 1000)} s` : "Reconnecting…"),
  offline: () => "Offline: messages you write are sent when the connection is back",
  unavailable: () => `${inCloud() ? "The" : "This site's"} chat service can't be reached; retrying…`,
  full: () => "Too many chat sessions from this network right now; trying again in a minute…",
};

function setBanner(status, detail) {
  app.status = status;
  const banner = $("banner");
  banner.dataset.status = status;
  const waiting = app.outbox.filter((m) => m.state !== "failed").length;
  const suffix = status !== "connected" && waiting ? ` · ${waiting} waiting to be sent` : "";
  $("banner-text").textContent = BANNER[status](detail) + suffix;
  $("retry-now").hidden = status !== "reconnecting";
}

// ---- session and connection

async function fetchJson(url, init) {
  const response = await fetch(url, { cache: "no-store", credentials: "same-origin", ...init });
  const body = await response.json().catch(() => ({}));
  return { response, body };
}

async function loadConfig() {
  for (let attempt = 0; ; attempt += 1) {
    try {
      const { response, body } = await fetchJson("/config.json");
      if (response.ok) return body;
    } catch {
      // the core is unreachable: keep trying below
    }
    setBanner("unavailable");
    await sleep(Math.min(500 * 2 ** attempt, 10_000));
  }
}

async function newSession() {
  for (let attempt = 0; ; attempt += 1) {
    try {
      const { response, body } = await fetchJson("/api/session", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ nick: app.nick }),
      });
      if (response.ok) {
        storage.saveSession(body);
        return body;
      }
      if (response.status === 400) {
        // The server refused the nick: ask again.
        app.nick = await askNick(body.message || "Please choose another nickname.");
        continue;
      }
      if (body.code === "banned") return control.sessionBanned(body); // never settles
      if (body.code === "too_many_sessions") {
        setBanner("full");
        await sleep(body.retryAfterMs || 60_000);
        continue;
      }
      await sleep(body.retryAfterMs || 0);
    } catch {
      // network error: retry below
    }
    setBanner("unavailable");
    await sleep(Math.min(500 * 2 ** attempt, 10_000));
  }
}

/** Cloud mode: a Cognito identity (kept per tab), temporary credentials and a
 *  SigV4-presigned URL: {clientId, url, expiresAt}.  Retries until it works. */
async function cloudParams({ quiet = false } = {}) {
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await connectParams(app.config.cloud, { storage: storage.identityStore });
    } catch (err) {
      // Cognito refused the identity we kept (say, the pool was replaced): a new one.
      if (/HTTP 4\d\d/.test(String(err && err.message))) storage.forgetIdentity();
    }
    if (!quiet) setBanner("unavailable");
    await sleep(Math.min(500 * 2 ** attempt, 10_000));
  }
}

/** Cloud mode: before the credentials in the URL expire, presign a fresh one
 *  and reconnect with it (same identity, so the same client id). */
function scheduleRenewal(expiresAt) {
  clearTimeout(app.renewTimer);
  app.renewTimer = setTimeout(async () => {
    const conn = app.conn;
    const params = await cloudParams({ quiet: true });
    if (!conn || app.conn !== conn) return; // replaced meanwhile, with fresh credentials
    if (params.clientId !== app.session.clientId) {
      connect();
      return;
    }
    scheduleRenewal(params.expiresAt);
    conn.renew(params.url);
  }, renewDelayMs(expiresAt));
}

async function connect({ fresh = false, newIdentity = false } = {}) {
  if (app.conn) app.conn.stop();
  app.conn = null;
  app.welcomed = false;
  clearTimeout(app.renewTimer);
  let url = app.config.wsUrl;
  if (viaCognito()) {
    // Every connect gets fresh credentials; a duplicated tab also a new identity.
    if (newIdentity) storage.forgetIdentity();
    const params = await cloudParams();
    app.session = { clientId: params.clientId };
    url = params.url;
    scheduleRenewal(params.expiresAt);
  } else {
    if (fresh) storage.saveSession(null);
    app.session = storage.loadSession() || (await newSession());
  }
  announceTab();
  app.conn = new Connection({
    url,
    session: app.session,
    topics: () => [
      ...(inCloud() ? [] : [SYNC_STATE_TOPIC, SITE_TOPIC]),
      ...(app.room ? [`chat/pub/${app.room}`] : []),
    ],
    onStatus,
    onConnect: () => send({ type: "hello", nick: app.nick }),
    onMessage,
    onAuthFailed: () => connect({ fresh: true }),
  });
  app.conn.start();
}

function onStatus(status, detail) {
  if (status === "connected") return; // "connected" shows once the Router has said welcome
  app.welcomed = false;
  clearInterval(app.roomsTimer);
  // Whatever was in flight is resent (same id) after the reconnect.
  for (const item of app.outbox) {
    if (item.state === "pending") item.state = "queued";
    clearTimeout(app.timers.get(item.id));
  }
  app.timers.clear();
  for (const view of app.views.values()) {
    view.loadingOlder = false;
    view.backfilling = false;
  }
  app.requests.clear();
  setBanner(status, detail);
  render();
}

// A duplicated tab copies sessionStorage, so two tabs would share a client id
// and keep throwing each other off the broker: the younger one gets its own.
const tabs = "BroadcastChannel" in window ? new BroadcastChannel("edgechat-tabs") : null;
function announceTab() {
  if (tabs && app.session) tabs.postMessage({ type: "who", clientId: app.session.clientId, born: performance.timeOrigin });
}
if (tabs) {
  tabs.onmessage = ({ data }) => {
    if (!data || !app.session || data.clientId !== app.session.clientId) return;
    if (data.type === "who" && data.born > performance.timeOrigin) {
      tabs.postMessage({ type: "mine", clientId: data.clientId });
    } else if (data.type === "mine") {
      app.outbox = []; // the older tab sends those
      storage.saveOutbox([]);
      connect({ fresh: true, newIdentity: true });
    }
  };
}

function send(event) {
  return app.conn ? app.conn.publish(event) : false;
}

function request(kind, room, event) {
  const requestId = `r${app.nextRequest}`;
  app.nextRequest += 1;
  app.requests.set(requestId, { kind, room, event });
  send({ ...event, requestId });
  return requestId;
}

// ---- events from the Router

function onMessage(topic, event) {
  if (control.handle(event)) return undefined;
  // Replies other than history pages need no bookkeeping beyond this.
  if (event.type === "joined" || event.type === "rooms") app.requests.delete(event.requestId);
  switch (event.type) {
    case "welcome":
      return onWelcome(event);
    case "joined":
      return onJoined(event);
    case "presence":
      return onPresence(event);
    case "message":
      return onChatMessage(event);
    case "ack":
      return onAck(event);
    case "history":
      return onHistory(event);
    case "rooms":
      return onRooms(event);
    case "error":
      return onError(event);
    case "labels":
    case "tagcloud":
      return pictures.onEvent(event);
    case "activity":
      return stream.onActivity(event);
    case "syncState":
      return syncState.onEvent(event);
    default:
      return undefined; // "left" and types from newer servers: nothing to do
  }
}

function onWelcome(event) {
  app.welcomed = true;
  app.site = event.site;
  if (event.limits && event.limits.maxTextChars) $("text").maxLength = event.limits.maxTextChars;
  setBanner("connected");
  if (app.room) request("join", app.room, { type: "join", room: app.room });
  listRooms();
  clearInterval(app.roomsTimer);
  app.roomsTimer = setInterval(listRooms, ROOMS_EVERY_MS);
  // What waited offline goes now, paced under the Router's rate limit.
  app.outbox
    .filter((item) => item.state !== "failed")
    .forEach((item, i) => (i < FLUSH_AT_ONCE ? transmit(item) : later(item, (i - FLUSH_AT_ONCE + 1) * FLUSH_EVERY_MS)));
  render();
}

function onJoined(event) {
  const view = viewOf(event.room);
  view.members = new Map((event.members || []).map((m) => [m.clientId, m.nick]));
  if (!view.loaded) request("latest", view.room, { type: "history", room: view.room, limit: PAGE });
  else backfill(view, view.maxSeq);
  if (event.room === app.room) renderPresence();
  stream.joined(event.room);
}

function onPresence(event) {
  const view = viewOf(event.room);
  if (event.change === "leave") view.members.delete(event.clientId);
  else view.members.set(event.clientId, event.nick);
  if (event.room === app.room) renderPresence();
}

function addStored(message) {
  pictures.remember(message);
  const view = viewOf(message.room);
  const { gapAfter } = view.add(message);
  settle(message.id);
  if (gapAfter !== null) backfill(view, gapAfter);
  return view;
}

function onChatMessage(event) {
  if (typeof event.id !== "string" || typeof event.room !== "string") return;
  addStored(event);
  if (event.room === app.room) render();
}

function onAck(event) {
  const item = app.outbox.find((m) => m.id === event.id);
  if (!item) return;
  addStored({
    id: event.id, room: event.room, seq: event.seq, ts: event.ts, orderKey: event.orderKey,
    clientId: me(), nick: app.nick, text: item.text, attachments: item.attachments,
  });
  if (event.room === app.room) render();
}

function onHistory(event) {
  const pending = app.requests.get(event.requestId);
  if (!pending) return; // from before a reconnect
  app.requests.delete(event.requestId);
  const view = viewOf(event.room);
  const page = Array.isArray(event.messages) ? event.messages : [];
  for (const message of page) addStored(message);
  if (pending.kind === "latest") {
    view.loaded = true;
    view.hasOlder = Boolean(event.hasMore);
  } else if (pending.kind === "older") {
    view.loadingOlder = false;
    view.hasOlder = Boolean(event.hasMore);
  } else if (pending.kind === "backfill") {
    const last = page.reduce((max, m) => Math.max(max, m.seq || 0), pending.event.after);
    if (event.hasMore && last > pending.event.after) {
      request("backfill", view.room, { ...pending.event, after: last });
    } else {
      view.backfilling = false;
      if (view.backfillFrom !== null && view.backfillFrom !== undefined) {
        const from = view.backfillFrom;
        view.backfillFrom = null;
        backfill(view, from);
      }
    }
  }
  if (event.room === app.room) render(pending.kind === "older" ? "keep-bottom-distance" : undefined);
}

function onRooms(event) {
  app.knownRooms = Array.isArray(event.rooms) ? event.rooms.filter((r) => r && typeof r.room === "string") : [];
  renderRoomList();
}

function onError(event) {
  const item = event.ref ? app.outbox.find((m) => m.id === event.ref) : undefined;
  if (item) {
    clearTimeout(app.timers.get(item.id));
    if (event.code === "rate_limited") {
      // Not a failure of this message: try again, spread out, without counting it.
      item.tries -= 1;
      later(item, (event.retryAfterMs || SERVER_RETRY_MS) + Math.random() * 1000);
    } else if (event.retryable && event.code !== "muted" && item.tries < MAX_SERVER_RETRIES) {
      later(item, event.retryAfterMs || SERVER_RETRY_MS);
    } else {
      item.state = "failed";
      item.error = event.message;
    }
    persistOutbox();
    render();
    return;
  }
  const pending = event.ref ? app.requests.get(event.ref) : undefined;
  if (pending) {
    app.requests.delete(event.ref);
    const view = viewOf(pending.room);
    view.loadingOlder = false;
    view.backfilling = false;
    if (event.retryable) {
      setTimeout(() => canSend() && request(pending.kind, pending.room, pending.event), event.retryAfterMs || SERVER_RETRY_MS);
    }
    render();
  }
}

// ---- history

function backfill(view, after) {
  if (!canSend()) return; // the reconnect does it
  if (view.backfilling) {
    view.backfillFrom = Math.min(view.backfillFrom ?? after, after);
    return;
  }
  view.backfilling = true;
  const limit = (app.config.limits && app.config.limits.historyMax) || 200;
  request("backfill", view.room, { type: "history", room: view.room, after, limit });
}

function loadOlder() {
  const view = app.room ? viewOf(app.room) : null;
  if (!view || !view.hasOlder || view.loadingOlder || !canSend()) return;
  view.loadingOlder = true;
  request("older", view.room, { type: "history", room: view.room, before: view.oldestSeq, limit: PAGE });
  render();
}

function listRooms() {
  if (canSend()) request("rooms", null, { type: "rooms" });
}

// ---- sending

function persistOutbox() {
  storage.saveOutbox(
    app.outbox.map(({ id, room, text, ts, attachments, replyTo }) => ({ id, room, text, ts, attachments, replyTo })),
  );
}

function transmit(item) {
  if (!canSend()) {
    item.state = "queued";
    return;
  }
  item.state = "pending";
  item.tries += 1;
  const attached = item.attachments && item.attachments.length ? { attachments: item.attachments } : {};
  const reply = item.replyTo ? { replyTo: item.replyTo } : {};
  send({ type: "message", id: item.id, room: item.room, text: item.text, ...attached, ...reply });
  clearTimeout(app.timers.get(item.id));
  app.timers.set(item.id, setTimeout(() => {
    if (item.state === "pending" && app.outbox.includes(item)) {
      item.state = "failed";
      item.error = "no answer from the site";
      render();
    }
  }, ACK_TIMEOUT_MS));
}

/** Sends ``item`` after ``ms``, unless it was settled or the connection went. */
function later(item, ms) {
  item.state = "queued";
  setTimeout(() => {
    if (item.state === "queued" && app.outbox.includes(item) && canSend()) {
      transmit(item);
      render();
    }
  }, ms);
}

function settle(id) {
  const index = app.outbox.findIndex((m) => m.id === id);
  if (index < 0) return;
  clearTimeout(app.timers.get(id));
  app.timers.delete(id);
  app.outbox.splice(index, 1);
  persistOutbox();
  if (app.status !== "connected") setBanner(app.status);
}

function sendText(text, attachments = []) {
  const replyTo = lifecycle.takeReply();
  const item = { id: ulid(), room: app.room, text, ts: Date.now(), state: "queued", tries: 0, attachments, replyTo };
  app.outbox.push(item);
  persistOutbox();
  transmit(item);
  if (app.status !== "connected") setBanner(app.status);
  render("bottom");
}

function retry(id) {
  const item = app.outbox.find((m) => m.id === id);
  if (!item) return;
  item.tries = 0;
  item.error = undefined;
  transmit(item); // the same id: if the first try did arrive, this is a no-op
  render();
}

// ---- rooms

function selectRoom(raw) {
  const [room, why] = parseRoom(raw);
  const error = $("room-error");
  if (!room) {
    error.textContent = `Can't open “${raw}”. ${why}`;
    error.hidden = false;
    return false;
  }
  error.hidden = true;
  if (room === app.room) return true;
  const previous = app.room;
  app.room = room;
  if (location.hash !== roomHash(room)) location.hash = roomHash(room);
  if (previous && canSend()) {
    send({ type: "leave", room: previous });
    app.conn.unsubscribe(`chat/pub/${previous}`);
    viewOf(previous).members.clear();
  }
  $("room-title").textContent = `#${room}`;
  control.enterRoom();
  stream.enterRoom(room);
  document.title = `#${room} · edgechat`;
  pictures.enterRoom(room);
  $("composer").hidden = false;
  $("copy-link").hidden = false;
  messages.clear();
  render("bottom");
  renderPresence();
  renderRoomList();
  if (canSend()) {
    app.conn.subscribe(`chat/pub/${room}`);
    request("join", room, { type: "join", room });
    listRooms();
  }
  closeSidebarOnNarrow();
  return true;
}

// ---- rendering

function render(scroll) {
  const log = $("log");
  const view = app.room ? viewOf(app.room) : null;
  if (!view) return;
  const fromBottom = log.scrollHeight - log.scrollTop;
  const atBottom = fromBottom - log.clientHeight < 60;
  const stored = view.sorted().map((m) => ({ ...m, state: "sent" }));
  const waiting = app.outbox
    .filter((m) => m.room === view.room && !view.byId.has(m.id))
    .map((m) => ({
      id: m.id, clientId: me(), nick: app.nick, ts: m.ts, text: m.text, state: m.state, error: m.error,
      attachments: m.attachments,
    }));
  messages.render([...stored, ...waiting], me());
  const older = $("load-older");
  older.hidden = !view.hasOlder;
  older.disabled = Boolean(view.loadingOlder) || !canSend();
  older.textContent = view.loadingOlder ? "Loading…" : "Load older messages";
  $("history-start").hidden = !(view.loaded && !view.hasOlder);
  if (scroll === "keep-bottom-distance") log.scrollTop = log.scrollHeight - fromBottom;
  else if (scroll === "bottom" || atBottom) log.scrollTop = log.scrollHeight;
}

function renderPresence() {
  const view = app.room ? viewOf(app.room) : null;
  const members = view ? view.members : new Map();
  $("member-count").textContent = String(members.size);
  renderMembers($("members"), members, me());
  renderRoomList();
}

function renderRoomList() {
  // The current room's head count is known live from presence events.
  const here = app.room ? viewOf(app.room).members.size : 0;
  const rooms = app.knownRooms.map((r) => (r.room === app.room ? { ...r, members: here } : r));
  if (app.room && !rooms.some((r) => r.room === app.room)) rooms.unshift({ room: app.room, members: here });
  renderRooms($("room-list"), rooms, app.room);
}

// ---- nickname

function showNick() {
  $("nick-label").textContent = app.nick || "";
}

function askNick(problem) {
  const dialog = $("nick-dialog");
  const input = $("nick-input");
  const error = $("nick-error");
  input.value = app.nick || "";
  error.textContent = problem || "";
  error.hidden = !problem;
  if (!dialog.open) dialog.showModal();
  input.focus();
  return new Promise((resolve) => {
    dialog.onsubmit = (event) => {
      const [nick, why] = parseNick(input.value);
      if (!nick) {
        event.preventDefault();
        error.textContent = why;
        error.hidden = false;
        return;
      }
      dialog.onsubmit = null;
      resolve(nick);
    };
    // Esc may close the dialog only when a nick is already set.
    dialog.oncancel = (event) => {
      if (!app.nick) event.preventDefault();
      else resolve(app.nick);
    };
  });
}

async function changeNick() {
  const nick = await askNick();
  if (nick === app.nick) return;
  app.nick = nick;
  storage.saveNick(nick);
  showNick();
  if (canSend()) send({ type: "hello", nick });
}

// ---- wiring

function closeSidebarOnNarrow() {
  document.body.classList.remove("sidebar-open");
  $("rooms-toggle").setAttribute("aria-expanded", "false");
}

function wire() {
  messages = new MessageList($("messages"), retry, pictureStrip);
  syncState = new SyncIndicator();
  pictures = new PictureUi({ session: () => app.session, room: () => app.room, changed: () => {} });
  pictures.mount($("composer"), $("sidebar"));
  stream = new StreamUi({
    send: (event) => canSend() && app.conn.stream(event),
    room: () => app.room,
    me,
    nickOf: (room, clientId) => (room ? viewOf(room).members.get(clientId) : undefined),
  });
  const lookup = (id) => (app.room ? viewOf(app.room).byId.get(id) : undefined);
  control = new Control({
    room: () => app.room,
    viewOf,
    render: () => render(),
    stop: () => {
      if (app.conn) app.conn.stop();
      app.conn = null;
    },
    onModerator: (yes) => {
      modConsole.setModerator(yes);
      render();
    },
    onModeration: (event) => modConsole.onEvent(event),
  });
  lifecycle = new Lifecycle({
    send: (event) => canSend() && send(event),
    me,
    lookup,
    moderator: () => control.moderator,
    windowMs: () => control.editWindowMs,
    scrollTo: (id) => {
      const node = $("messages").querySelector(`li[data-id="${CSS.escape(id)}"]`);
      if (node) node.scrollIntoView({ block: "center" });
    },
  }, $("messages"));
  messages.onUpdate = (node, item) => lifecycle.refresh(node, item);
  modConsole = new ModConsole({
    send: (event) => canSend() && send(event),
    me,
    login: (creds) => {
      storage.saveSession(creds);
      connect();
    },
  });
  $("join-form").addEventListener("submit", (event) => {
    event.preventDefault();
    if (selectRoom($("room-input").value)) $("room-input").value = "";
  });
  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const box = $("text");
    // A picture may go without words; wait for uploads still under way.
    if ((!box.value.trim() && !pictures.staged.length) || pictures.busy || !app.room) return;
    sendText(box.value.trim() ? box.value : "", pictures.take());
    box.value = "";
    box.focus();
  });
  $("text").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("composer").requestSubmit();
    }
  });
  $("load-older").addEventListener("click", loadOlder);
  $("log").addEventListener("scroll", () => {
    if ($("log").scrollTop < 40) loadOlder();
  });
  $("refresh-rooms").addEventListener("click", listRooms);
  $("retry-now").addEventListener("click", () => app.conn && app.conn.retryNow());
  $("nick-button").addEventListener("click", changeNick);
  $("copy-link").addEventListener("click", async () => {
    const button = $("copy-link");
    try {
      await navigator.clipboard.writeText(location.href);
      button.textContent = "Link copied";
    } catch {
      // Plain http on a LAN is not a "secure context": no clipboard API.
      button.textContent = location.href;
    }
    setTimeout(() => { button.textContent = "Copy link"; }, 3000);
  });
  $("rooms-toggle").addEventListener("click", () => {
    const open = document.body.classList.toggle("sidebar-open");
    $("rooms-toggle").setAttribute("aria-expanded", String(open));
  });
  window.addEventListener("hashchange", () => {
    const room = roomFromHash(location.hash);
    if (room !== null) selectRoom(room);
  });
}

async function main() {
  wire();
  // Who is here: open beside the chat on wide screens, one tap away on phones.
  $("presence").open = window.matchMedia("(min-width: 701px)").matches;
  app.outbox = storage.loadOutbox().map((m) => ({ ...m, state: "queued", tries: 0 }));
  app.nick = storage.loadNick();
  if (!app.nick || !parseNick(app.nick)[0]) {
    app.nick = await askNick();
    storage.saveNick(app.nick);
  }
  showNick();
  app.config = await loadConfig();
  setPicturesBase(app.config.picturesUrl);
  pictures.setEnabled(!inCloud()); // no upload path in the cloud, local or not
  setBanner("connecting");
  selectRoom(roomFromHash(location.hash) ?? "lobby");
  await connect();
}

main();
