// The operator's console: a view for moderators (docs/web.md).  Sign in with a
// moderator credential (`edgechat credentials new --moderator`); the app then
// reconnects as that client, and the Router answers `console` and `audit`
// requests and carries out moderation (it checks the role, not this page).
import { el, formatTime } from "./view.js";

const REFRESH_MS = 5_000;

/** The objects in a list from the wire (anything else there is dropped, not rendered). */
function objects(list) {
  return Array.isArray(list) ? list.filter((x) => x !== null && typeof x === "object") : [];
}

function bytes(n) {
  if (!Number.isFinite(n)) return "?";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${v.toFixed(i ? 1 : 0)} ${units[i]}`;
}

export class ModConsole {
  /** ctx: { send(event): bool, login({clientId, password}), me() } */
  constructor(ctx) {
    this.ctx = ctx;
    this.timer = null;
    this.nextId = 1;
    this.build();
  }

  build() {
    const header = document.querySelector("header.top");
    this.loginButton = el("button", { text: "Moderator", attrs: { type: "button", id: "mod-login-open" } });
    this.openButton = el("button", { text: "Console", attrs: { type: "button", id: "console-open" } });
    this.openButton.hidden = true;
    header.append(this.loginButton, this.openButton);

    // Sign-in: paste the JSON `credentials new --moderator` printed, or the two fields.
    this.login = el("dialog", { attrs: { id: "mod-login", "aria-labelledby": "mod-login-title" } });
    const form = el("form", { attrs: { method: "dialog", novalidate: "" } });
    const idInput = el("input", { attrs: { id: "mod-client-id", autocomplete: "username", spellcheck: "false" } });
    const pwInput = el("input", { attrs: { id: "mod-password", type: "password", autocomplete: "current-password" } });
    const error = el("p", { cls: "error", attrs: { id: "mod-login-error", role: "alert" } });
    error.hidden = true;
    const save = el("button", { text: "Sign in", attrs: { type: "submit", id: "mod-login-save" } });
    const cancel = el("button", { text: "Cancel", attrs: { type: "button" } });
    cancel.addEventListener("click", () => this.login.close());
    form.append(
      el("h2", { text: "Moderator sign-in", attrs: { id: "mod-login-title" } }),
      el("p", { text: "Use the client id and password from `edgechat credentials new --moderator`." }),
      el("label", { text: "Client id", attrs: { for: "mod-client-id" } }), idInput,
      el("label", { text: "Password", attrs: { for: "mod-password" } }), pwInput,
      error,
      el("div", { cls: "row end" }),
    );
    form.lastChild.append(cancel, save);
    form.addEventListener("submit", (event) => {
      let clientId = idInput.value.trim();
      let password = pwInput.value;
      try {
        const pasted = JSON.parse(clientId); // the whole JSON pasted into the first field
        if (pasted && typeof pasted.clientId === "string") ({ clientId, password } = pasted);
      } catch {
        // not JSON: the two fields as typed
      }
      if (!/^[A-Za-z0-9_-]{1,64}$/.test(clientId) || !password) {
        event.preventDefault();
        error.textContent = "Enter the client id and password of a moderator credential.";
        error.hidden = false;
        return;
      }
      error.hidden = true;
      this.ctx.login({ clientId, username: clientId, password });
    });
    this.login.append(form);
    document.body.append(this.login);
    this.loginButton.addEventListener("click", () => this.login.showModal());

    // The console itself: a panel beside the chat, not modal.
    this.panel = el("section", { cls: "console", attrs: { id: "console", "aria-label": "Operator's console" } });
    this.panel.hidden = true;
    const close = el("button", { text: "Close", attrs: { type: "button", id: "console-close" } });
    close.addEventListener("click", () => this.close());
    this.summary = el("div", { cls: "console-summary", attrs: { id: "console-summary" } });
    this.rooms = el("div", { cls: "console-rooms", attrs: { id: "console-rooms" } });
    this.audit = el("ol", { cls: "console-audit", attrs: { id: "console-audit" } });
    this.bans = el("ul", { cls: "console-bans", attrs: { id: "console-bans" } });
    this.status = el("p", { cls: "console-status", attrs: { id: "console-status", role: "status" } });
    const head = el("div", { cls: "console-head" });
    head.append(el("h2", { text: "Operator's console" }), close);
    this.panel.append(head, this.status, this.summary, el("h3", { text: "Rooms" }), this.rooms,
      el("h3", { text: "Banned" }), this.bans, el("h3", { text: "Moderation log" }), this.audit);
    document.querySelector(".layout").append(this.panel);
    this.openButton.addEventListener("click", () => (this.panel.hidden ? this.open() : this.close()));
    this.panel.addEventListener("click", (event) => this.onClick(event));
  }

  /** The Router said whether this client is a moderator (welcome). */
  setModerator(yes) {
    this.moderator = yes;
    this.openButton.hidden = !yes;
    this.loginButton.hidden = yes;
    if (!yes) this.close();
  }

  open() {
    this.panel.hidden = false;
    this.refresh();
    clearInterval(this.timer);
    this.timer = setInterval(() => this.refresh(), REFRESH_MS);
  }

  close() {
    this.panel.hidden = true;
    clearInterval(this.timer);
  }

  request(event) {
    const requestId = `c${this.nextId}`;
    this.nextId += 1;
    this.ctx.send({ ...event, requestId });
  }

  refresh() {
    this.request({ type: "console" });
    this.request({ type: "audit", limit: 30 });
  }

  onEvent(event) {
    if (event.type === "console") this.showConsole(event);
    else if (event.type === "audit") this.showAudit(Array.isArray(event.entries) ? event.entries : []);
    else if (event.type === "moderated") {
      this.status.textContent = `Done: ${event.action} ${event.target}`;
      if (!this.panel.hidden) this.refresh();
    } else if (event.type === "error" && !this.panel.hidden) {
      this.status.textContent = `Refused: ${event.message}`;
    }
  }

  showConsole(c) {
    const counters = c.counters || {};
    const rates = c.rates || {};
    const disk = c.disk || {};
    const sync = c.sync;
    const line = (label, value) => {
      const row = el("div", { cls: "fact" });
      row.append(el("span", { cls: "label", text: `${label}: ` }), el("span", { cls: "value", text: value }));
      return row;
    };
    const stored = c.stored || {};
    this.summary.replaceChildren(
      line("Connected sessions", String(c.sessions ?? "?")),
      line("Messages stored", String(stored.messages ?? "?")),
      line("Rate", rates.overS ? `${rates.storedPerS} stored/s, ${rates.receivedPerS} requests/s (last ${rates.overS} s)` : "measuring…"),
      line("Requests", `${counters.received ?? 0} received, ${counters.rejected ?? 0} refused, ${counters.storeFailures ?? 0} store failures`),
      line("Disk", `store ${bytes(disk.storeBytes)}, ${bytes(disk.freeBytes)} free of ${bytes(disk.totalBytes)}`),
      line("Sync", sync ? syncLine(sync) : "not configured"),
    );
    const present = objects(c.present).filter((r) => typeof r.room === "string");
    const storedRooms = objects(stored.rooms).filter((r) => typeof r.room === "string");
    const names = new Set(present.map((r) => r.room));
    const rows = [...present, ...storedRooms.filter((r) => !names.has(r.room)).map((r) => ({ room: r.room, members: [] }))];
    this.rooms.replaceChildren(...rows.map((r) => this.roomCard(r)));
    this.showBans(objects(c.bans));
  }

  /** Addresses kept from new sessions, each with an Unban button. */
  showBans(bans) {
    const items = bans.filter((b) => typeof b.clientId === "string").map((b) => {
      const li = el("li", { attrs: { "data-client-id": b.clientId } });
      const until = Number.isFinite(b.untilTs) ? ` until ${formatTime(b.untilTs)}` : "";
      const why = typeof b.reason === "string" && b.reason ? ` (${b.reason.slice(0, 200)})` : "";
      li.append(el("code", { text: b.clientId }), el("span", { text: ` from ${String(b.address || "?")}${until}${why} ` }),
        el("button", { text: "Unban", attrs: { type: "button", "data-mod": "unban", "data-client": b.clientId } }));
      return li;
    });
    this.bans.replaceChildren(...(items.length ? items : [el("li", { cls: "none", text: "No one" })]));
  }

  roomCard(r) {
    const card = el("div", { cls: "room-card", attrs: { "data-room": r.room } });
    const head = el("div", { cls: "room-card-head" });
    head.append(el("strong", { text: `#${r.room}` }), " ");
    if (r.locked) head.append(el("span", { cls: "badge", text: "read-only" }), " ");
    head.append(el("button", {
      text: r.locked ? "Unlock" : "Lock",
      attrs: { type: "button", "data-mod": r.locked ? "unlock" : "lock", "data-room": r.room },
    }));
    card.append(head);
    if (r.pinned && typeof r.pinned.text === "string") {
      const pin = el("div", { cls: "room-pin" });
      pin.append(el("span", { text: `Pinned: ${r.pinned.text} ` }),
        el("button", { text: "Unpin", attrs: { type: "button", "data-mod": "unpin", "data-room": r.room } }));
      card.append(pin);
    }
    const announce = el("div", { cls: "room-announce" });
    announce.append(
      el("input", { attrs: { "data-announce": r.room, placeholder: "Announcement to pin", maxlength: "1000", "aria-label": `Announcement for ${r.room}` } }),
      el("button", { text: "Pin", attrs: { type: "button", "data-mod": "announce", "data-room": r.room } }),
    );
    card.append(announce);
    const muted = new Map(objects(r.muted).map((m) => [m.clientId, m.untilTs]));
    const people = el("ul", { cls: "room-members" });
    for (const m of objects(r.members).filter((x) => typeof x.clientId === "string")) {
      const li = el("li", { attrs: { "data-client-id": m.clientId } });
      li.append(el("span", { cls: "nick", text: m.nick || m.clientId }), " ",
        el("code", { text: m.clientId }), " ");
      const until = muted.get(m.clientId);
      if (muted.has(m.clientId)) {
        li.append(el("span", { cls: "badge", text: Number.isFinite(until) ? `muted until ${formatTime(until)}` : "muted" }), " ");
      }
      if (m.clientId !== this.ctx.me()) {
        li.append(
          el("button", { text: muted.has(m.clientId) ? "Unmute" : "Mute 10 min", attrs: { type: "button", "data-mod": muted.has(m.clientId) ? "unmute" : "mute", "data-room": r.room, "data-client": m.clientId } }),
          " ",
          el("button", { cls: "danger", text: "Ban", attrs: { type: "button", "data-mod": "ban", "data-client": m.clientId } }),
        );
      }
      people.append(li);
    }
    card.append(people);
    return card;
  }

  showAudit(entries) {
    this.audit.replaceChildren(...objects(entries).map((e) => {
      const where = e.room ? ` in #${e.room}` : "";
      const when = Number.isFinite(e.ts) ? formatTime(e.ts) : "";
      return el("li", { text: `${when} ${e.actor} ${e.action} ${e.target}${where}` });
    }));
  }

  onClick(event) {
    const button = event.target.closest("button[data-mod]");
    if (!button) return;
    const { mod, room, client } = button.dataset;
    switch (mod) {
      case "lock":
      case "unlock":
        return this.request({ type: mod, room });
      case "unpin":
        return this.request({ type: "announce", room });
      case "announce": {
        const input = [...this.panel.querySelectorAll("input[data-announce]")].find((i) => i.dataset.announce === room);
        if (input && input.value.trim()) this.request({ type: "announce", room, text: input.value });
        return undefined;
      }
      case "mute":
        return this.request({ type: "mute", room, clientId: client, minutes: 10 });
      case "unmute":
        return this.request({ type: "unmute", room, clientId: client });
      case "ban":
        return this.request({ type: "ban", clientId: client });
      case "unban":
        return this.request({ type: "unban", clientId: client });
      default:
        return undefined;
    }
  }
}

function syncLine(sync) {
  const parts = [];
  if (Number.isFinite(sync.outboxQueued)) parts.push(`${sync.outboxQueued} waiting to go up`);
  const service = sync.service;
  if (service && typeof service === "object") {
    parts.push(service.synced ? "synced" : service.connected ? "connected" : "offline");
  }
  return parts.join(", ") || "unknown";
}
