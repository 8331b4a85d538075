// The typed control channel (docs/protocol.md, "Events from the system"):
// the only way the system tells the app something.  Each known type is
// rendered as data (textContent, never markup); any other type is ignored.
// Nothing received is ever run as code: there is no eval, no Function, no
// markup sink anywhere in the app (tests/web/test_no_markup_sinks.py).
import { applyRevision } from "./revisions.js";
import { $, el, formatTime } from "./view.js";

const NOTICE_MS = 12_000;

function text(value, max = 1000) {
  return typeof value === "string" ? value.slice(0, max) : "";
}

function isRoom(value) {
  return typeof value === "string" && /^[a-z0-9][a-z0-9_-]{0,63}$/.test(value);
}

export class Control {
  /**
   * ctx: { room(): current room, viewOf(room), render(), stop(), onModerator(bool),
   *        onModeration(event): console events (moderated, audit, console, errors) }
   */
  constructor(ctx) {
    this.ctx = ctx;
    this.moderator = false;
    this.editWindowMs = 15 * 60_000; // the Router's, from welcome
    this.locked = new Set(); // rooms read-only now
    this.pinned = new Map(); // room -> announcement
    this.mutedUntil = new Map(); // room -> ts
    this.removed = false;
    this.mount();
  }

  mount() {
    const chat = $("chat");
    this.pin = el("div", { cls: "pinned", attrs: { id: "pinned", role: "note" } });
    this.pin.hidden = true;
    this.notices = el("ul", { cls: "notices", attrs: { id: "notices", "aria-live": "polite" } });
    this.speech = el("p", { cls: "speech-note", attrs: { id: "speech-note", role: "status" } });
    this.speech.hidden = true;
    this.update = el("p", { cls: "app-update", attrs: { id: "app-update", role: "status" } });
    this.update.hidden = true;
    const log = $("log");
    chat.insertBefore(this.pin, log);
    chat.insertBefore(this.notices, log);
    $("composer").before(this.speech);
    document.querySelector("header.top").after(this.update);
  }

  /** Returns true when the event was a control event (handled or ignored here). */
  handle(event) {
    try {
      return this.dispatch(event);
    } catch (err) {
      // A malformed event must not stop the app: drop it, say so in the console.
      console.warn("edgechat: ignored a malformed", String(event && event.type).slice(0, 32), "event:", err);
      return true;
    }
  }

  dispatch(event) {
    switch (event.type) {
      case "welcome":
        this.moderator = event.moderator === true;
        if (Number.isFinite(event.editWindowMs)) this.editWindowMs = event.editWindowMs;
        this.ctx.onModerator(this.moderator);
        return false; // main.js handles the rest of welcome
      case "joined":
        this.roomState(event.room, event.locked === true, event.pinned);
        return false;
      case "notice":
        this.notice(text(event.text), isRoom(event.room) ? event.room : null);
        return true;
      case "muted":
        this.muted(event);
        return true;
      case "banned":
        this.banned(text(event.reason, 200), event.untilTs);
        return true;
      case "roomLocked":
        if (isRoom(event.room)) this.roomState(event.room, event.locked === true, undefined);
        return true;
      case "announcement":
        if (isRoom(event.room)) this.announce(event.room, event.removed ? null : event);
        return true;
      case "appUpdate":
        this.appUpdate(text(event.version, 40), text(event.note, 200));
        return true;
      case "messageEdited":
      case "messageRemoved":
        this.revised(event);
        return true;
      case "moderated":
      case "audit":
      case "console":
        this.ctx.onModeration(event);
        return true;
      case "error":
        if (["not_allowed", "muted", "room_locked", "edit_window_closed", "not_found"].includes(event.code)) {
          this.notice(text(event.message), null, "error");
          this.ctx.onModeration(event);
        }
        return false; // main.js settles the message or request it was about
      default:
        return false;
    }
  }

  notice(message, room, kind = "notice") {
    if (!message) return;
    const item = el("li", { cls: `notice ${kind}`, attrs: { "data-kind": kind } });
    if (room) item.append(el("span", { cls: "where", text: `#${room} ` }));
    item.append(el("span", { cls: "what", text: message }));
    this.notices.append(item);
    while (this.notices.children.length > 5) this.notices.firstChild.remove();
    setTimeout(() => item.remove(), NOTICE_MS);
  }

  muted(event) {
    if (!isRoom(event.room) || (event.muted && !Number.isFinite(event.untilTs))) return;
    if (event.muted) this.mutedUntil.set(event.room, event.untilTs);
    else this.mutedUntil.delete(event.room);
    this.notice(
      event.muted ? `A moderator muted you here until ${formatTime(event.untilTs)}` : "You may speak here again",
      event.room,
    );
    this.showSpeech();
  }

  roomState(room, locked, pinned) {
    if (!isRoom(room)) return;
    if (locked) this.locked.add(room);
    else this.locked.delete(room);
    if (pinned !== undefined) this.announce(room, pinned || null);
    this.showSpeech();
  }

  announce(room, announcement) {
    if (announcement && typeof announcement.text === "string") this.pinned.set(room, announcement);
    else this.pinned.delete(room);
    this.showPinned();
  }

  /** Refresh what depends on the current room (called when it changes). */
  enterRoom() {
    this.showPinned();
    this.showSpeech();
  }

  showPinned() {
    const pinned = this.pinned.get(this.ctx.room());
    this.pin.hidden = !pinned;
    if (!pinned) return;
    this.pin.replaceChildren(
      el("strong", { text: "Announcement" }),
      " ",
      el("span", { cls: "pinned-text", text: text(pinned.text) }),
      " ",
      el("span", { cls: "pinned-by", text: `· ${text(pinned.nick, 32) || "moderator"}` }),
    );
  }

  showSpeech() {
    const room = this.ctx.room();
    const until = this.mutedUntil.get(room);
    const muted = until !== undefined && until > Date.now();
    const locked = this.locked.has(room) && !this.moderator;
    let note = "";
    if (locked) note = "This room is read-only for now.";
    else if (muted) note = `You are muted in this room until ${formatTime(until)}.`;
    this.speech.textContent = note;
    this.speech.hidden = !note;
    document.body.classList.toggle("read-only", locked);
    if (muted) setTimeout(() => this.showSpeech(), Math.min(until - Date.now() + 50, 60_000));
  }

  banned(reason, untilTs) {
    if (this.removed) return;
    this.removed = true;
    this.ctx.stop();
    const box = el("div", { cls: "removed", attrs: { id: "removed", role: "alertdialog", "aria-modal": "true" } });
    box.append(
      el("h2", { text: "You were removed from this chat" }),
      el("p", { text: "A moderator removed you from this site's chat. You can't send or read messages here any more." }),
    );
    if (reason) box.append(el("p", { cls: "reason", text: `Reason: ${reason}` }));
    if (Number.isFinite(untilTs)) {
      box.append(el("p", { cls: "until", text: `This device can join again after ${formatTime(untilTs)}.` }));
    }
    document.body.append(box);
  }

  /** The session endpoint refused this device (its address is banned):
   *  say so and until when.  Returns a promise that never settles, so the
   *  app stops trying to connect. */
  sessionBanned(body) {
    this.banned(text(body && body.reason, 200), body && body.untilTs);
    return new Promise(() => {});
  }

  appUpdate(version, note) {
    this.update.replaceChildren(
      el("span", { text: `A new version of the app is available${version ? ` (${version})` : ""}. ` }),
    );
    if (note) this.update.append(el("span", { cls: "note", text: `${note} ` }));
    const reload = el("button", { text: "Reload", attrs: { type: "button" } });
    reload.addEventListener("click", () => location.reload());
    this.update.append(reload);
    this.update.hidden = false;
  }

  revised(event) {
    if (typeof event.target !== "string" || !isRoom(event.room)) return;
    const view = this.ctx.viewOf(event.room);
    const changed = applyRevision(view.byId.get(event.target), event);
    if (!changed) return;
    view.byId.set(event.target, changed);
    if (event.room === this.ctx.room()) this.ctx.render();
  }
}
