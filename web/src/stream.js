// High-volume events (docs/stream.md): who is typing, reactions on messages,
// read marks ("Seen by …"), and the readings LAN devices publish into the room.  Sent on
// chat/stream/{me}; the Stream component answers with one "activity" event per
// room per micro-batch.  Everything is built with DOM calls: text is data.
import { $, el } from "./view.js";

const TYPING_EVERY_MS = 2_000; // repeat while typing: the Stream forgets after 6 s
const READ_EVERY_MS = 1_000; // read marks: at most one a second (the Stream allows 50/s)
const SEEN_NAMES = 3; // "Seen by Ann, Bob, Cy and 2 others"
const EMOJIS = ["👍", "❤️", "😂", "🎉"];
const CHART_POINTS = 60;
const CHART_W = 160;
const CHART_H = 40;
const SVG = "http://www.w3.org/2000/svg";

export class StreamUi {
  /**
   * @param {{send: (event: object) => boolean, room: () => string|null,
   *          me: () => string|null, nickOf: (room: string, clientId: string) => string|undefined}} options
   */
  constructor(options) {
    this.options = options;
    this.typing = new Map(); // clientId -> {until, timer}
    this.reactions = new Map(); // messageId -> Map(emoji -> count)
    this.mine = new Set(); // `${messageId} ${emoji}` this client holds
    this.readings = new Map(); // `${clientId} ${sensor}` -> {clientId, sensor, unit, latest, points}
    this.lastTypingSent = 0;
    this.reads = new Map(); // clientId -> highest seq they have read (others only)
    this.visible = new Set(); // message items on screen now
    this.readSent = 0; // highest seq this page has marked read in the open room
    this.readAt = 0;
    this.readTimer = null;
    this.buildDom();
  }

  buildDom() {
    this.typingLine = el("p", { cls: "typing", attrs: { id: "typing", "aria-live": "polite" } });
    $("composer").before(this.typingLine);
    this.readingsPanel = el("section", { cls: "readings", attrs: { id: "readings", "aria-label": "Device readings" } });
    this.readingsPanel.hidden = true;
    $("log").before(this.readingsPanel);
    const text = $("text");
    text.addEventListener("input", () => (text.value.trim() ? this.typed() : this.stopTyping()));
    $("composer").addEventListener("submit", () => this.stopTyping());
    // Reaction buttons on every message, as messages are added to the list.
    const list = $("messages");
    // A deleted message (lifecycle.js marks its item "deleted") has no bar.
    new MutationObserver((records) => {
      let seen = false;
      for (const r of records) {
        if (r.type === "attributes" && r.attributeName === "class") this.showBar(r.target);
        if (r.target === list) for (const node of r.addedNodes) if (node.nodeType === 1) this.decorate(node);
        if (r.target === list) for (const node of r.removedNodes) this.forget(node);
        seen ||= r.target === list || r.attributeName === "data-seq" || r.attributeName === "class";
      }
      if (seen) {
        this.renderSeen();
        this.markRead();
      }
    }).observe(list, { childList: true, subtree: true, attributes: true, attributeFilter: ["class", "data-seq"] });
    // Read marks: a message counts as read while it is on screen in a visible tab.
    this.onScreen = new IntersectionObserver(
      (entries) => {
        for (const e of entries) {
          if (e.isIntersecting) this.visible.add(e.target);
          else this.visible.delete(e.target);
        }
        this.markRead();
      },
      { root: $("log") },
    );
    document.addEventListener("visibilitychange", () => this.markRead());
    list.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-emoji]");
      const li = button && button.closest("li");
      if (li && !removed(li)) this.toggle(li.dataset.id, button.dataset.emoji);
    });
  }

  // ---- sending

  typed() {
    const room = this.options.room();
    const now = Date.now();
    if (!room || now - this.lastTypingSent < TYPING_EVERY_MS) return;
    if (this.options.send({ type: "typing", room, active: true })) this.lastTypingSent = now;
  }

  stopTyping() {
    const room = this.options.room();
    if (!room || !this.lastTypingSent) return;
    this.lastTypingSent = 0;
    this.options.send({ type: "typing", room, active: false });
  }

  /** Send a read mark when the newest message of the open room is on screen:
   *  at most one every READ_EVERY_MS (the last one waits, it is not lost). */
  markRead() {
    const room = this.options.room();
    const newest = this.newestItem();
    if (!room || !newest || document.visibilityState !== "visible") return;
    const seq = Number(newest.dataset.seq);
    if (seq <= this.readSent || !this.visible.has(newest) || !newest.isConnected) return;
    const wait = this.readAt + READ_EVERY_MS - Date.now();
    if (wait > 0) {
      if (!this.readTimer) this.readTimer = setTimeout(() => ((this.readTimer = null), this.markRead()), wait);
      return;
    }
    if (!this.options.send({ type: "read", room, seq })) return;
    this.readSent = seq;
    this.readAt = Date.now();
  }

  newestItem() {
    let newest = null;
    for (const li of $("messages").children) {
      if (li.dataset.seq && !removed(li) && (!newest || Number(li.dataset.seq) > Number(newest.dataset.seq))) newest = li;
    }
    return newest;
  }

  toggle(messageId, emoji) {
    const room = this.options.room();
    if (!room || !messageId || this.isRemoved(messageId)) return;
    const key = `${messageId} ${emoji}`;
    const remove = this.mine.has(key);
    if (!this.options.send({ type: "reaction", room, messageId, emoji, remove })) return;
    if (remove) this.mine.delete(key);
    else this.mine.add(key);
    this.renderReactions(messageId);
  }

  /** A room was joined (or rejoined after a reconnect): start it clean and
   *  ask for its reaction counts. */
  joined(room) {
    if (room !== this.options.room()) return;
    this.options.send({ type: "reactions", room });
  }

  /** The user switched rooms. */
  enterRoom() {
    for (const t of this.typing.values()) clearTimeout(t.timer);
    this.typing.clear();
    this.readings.clear();
    this.lastTypingSent = 0;
    this.reads.clear();
    this.readSent = 0;
    clearTimeout(this.readTimer);
    this.readTimer = null;
    this.renderSeen();
    this.renderTyping();
    this.renderReadings();
  }

  // ---- receiving

  onActivity(event) {
    if (!event || event.room !== this.options.room()) return;
    if (Array.isArray(event.typing)) this.setTyping(event.typing);
    if (Array.isArray(event.reactions)) {
      for (const r of event.reactions) {
        if (!r || typeof r.messageId !== "string" || !r.counts || typeof r.counts !== "object") continue;
        if (this.isRemoved(r.messageId)) continue; // reactions to a removed message mean nothing now
        const counts = new Map(Object.entries(r.counts).filter(([, n]) => Number.isInteger(n) && n > 0));
        this.reactions.set(r.messageId, counts);
        this.renderReactions(r.messageId);
      }
    }
    if (Array.isArray(event.readings)) {
      for (const r of event.readings) this.addReading(r);
      this.renderReadings();
    }
    if (Array.isArray(event.reads)) this.addReads(event.reads);
  }

  addReads(reads) {
    let changed = false;
    for (const r of reads) {
      if (!r || typeof r.clientId !== "string" || r.clientId === this.options.me()) continue;
      if (!Number.isSafeInteger(r.seq) || r.seq <= (this.reads.get(r.clientId) ?? -1)) continue;
      this.reads.set(r.clientId, r.seq);
      changed = true;
    }
    if (changed) this.renderSeen();
  }

  setTyping(list) {
    const now = Date.now();
    const next = new Map();
    for (const t of list) {
      if (!t || typeof t.clientId !== "string" || t.clientId === this.options.me()) continue;
      const ms = Math.max(0, Math.min(Number(t.expiresInMs) || 0, 30_000));
      const known = this.typing.get(t.clientId);
      if (known) clearTimeout(known.timer);
      // Each name goes by itself when its time is up, whatever else arrives.
      const timer = setTimeout(() => {
        this.typing.delete(t.clientId);
        this.renderTyping();
      }, ms);
      next.set(t.clientId, { until: now + ms, timer });
    }
    for (const [clientId, t] of this.typing) if (!next.has(clientId)) clearTimeout(t.timer);
    this.typing = next;
    this.renderTyping();
  }

  addReading(r) {
    if (!r || typeof r.clientId !== "string" || typeof r.sensor !== "string" || !Number.isFinite(r.latest)) return;
    const key = `${r.clientId} ${r.sensor}`;
    const known = this.readings.get(key) || { clientId: r.clientId, sensor: r.sensor, points: [] };
    known.unit = typeof r.unit === "string" ? r.unit : known.unit;
    known.latest = r.latest;
    known.min = r.min;
    known.max = r.max;
    known.avg = r.avg;
    known.points = [...known.points, r.latest].slice(-CHART_POINTS);
    this.readings.set(key, known);
  }

  // ---- rendering

  name(clientId) {
    return this.options.nickOf(this.options.room(), clientId) || "Someone";
  }

  renderTyping() {
    const names = [...this.typing.keys()].map((c) => this.name(c)).sort();
    let text = "";
    if (names.length === 1) text = `${names[0]} is typing…`;
    else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
    else if (names.length > 2) text = `${names.length} people are typing…`;
    this.typingLine.textContent = text;
    this.typingLine.dataset.count = String(names.length);
  }

  /** "Seen by …" under the latest message each other member has read. */
  renderSeen() {
    const list = $("messages");
    for (const p of list.querySelectorAll(":scope > li > .seen")) p.remove();
    const items = [...list.children]
      .filter((li) => li.dataset.seq && !removed(li))
      .sort((a, b) => Number(a.dataset.seq) - Number(b.dataset.seq));
    const at = new Map(); // li -> names of those whose mark is there
    for (const [clientId, seq] of this.reads) {
      let target = null;
      for (const li of items) if (Number(li.dataset.seq) <= seq) target = li;
      if (!target) continue;
      if (!at.has(target)) at.set(target, []);
      at.get(target).push(this.name(clientId));
    }
    for (const [li, names] of at) {
      li.append(el("p", { cls: "seen", text: seenText(names), attrs: { "data-count": String(names.length) } }));
    }
  }

  forget(node) {
    if (node.isConnected || node.nodeType !== 1) return; // moved, not removed
    this.onScreen.unobserve(node);
    this.visible.delete(node);
  }

  decorate(li) {
    if (li.dataset.id) this.onScreen.observe(li);
    if (!li.dataset.id || li.querySelector(".reactions")) return;
    const bar = el("div", { cls: "reactions" });
    for (const emoji of EMOJIS) {
      const button = el("button", { attrs: { type: "button", "data-emoji": emoji, "aria-pressed": "false" } });
      button.append(el("span", { cls: "emoji", text: emoji }), el("span", { cls: "n" }));
      bar.append(button);
    }
    li.append(bar);
    this.showBar(li);
    this.paint(li, li.dataset.id);
  }

  /** Hide a removed message's bar and forget its counts. */
  showBar(li) {
    const bar = li.parentElement === $("messages") ? li.querySelector(":scope > .reactions") : null;
    if (!bar) return;
    bar.hidden = removed(li);
    if (bar.hidden) this.reactions.delete(li.dataset.id);
  }

  messageNode(messageId) {
    return [...$("messages").children].find((node) => node.dataset.id === messageId);
  }

  isRemoved(messageId) {
    const li = this.messageNode(messageId);
    return Boolean(li && removed(li));
  }

  renderReactions(messageId) {
    const li = this.messageNode(messageId);
    if (li) this.paint(li, messageId);
  }

  paint(li, messageId) {
    const counts = this.reactions.get(messageId) || new Map();
    for (const button of li.querySelectorAll(".reactions button")) {
      const emoji = button.dataset.emoji;
      const n = counts.get(emoji) || 0;
      button.querySelector(".n").textContent = n ? String(n) : "";
      button.dataset.count = String(n);
      button.setAttribute("aria-pressed", String(this.mine.has(`${messageId} ${emoji}`)));
      button.setAttribute("aria-label", `${emoji} ${n}`);
    }
  }

  renderReadings() {
    const items = [...this.readings.values()].sort((a, b) => `${a.clientId}${a.sensor}`.localeCompare(`${b.clientId}${b.sensor}`));
    this.readingsPanel.hidden = items.length === 0;
    this.readingsPanel.replaceChildren(
      ...items.map((r) => {
        const card = el("figure", { cls: "reading", attrs: { "data-client-id": r.clientId, "data-sensor": r.sensor } });
        const value = `${formatNumber(r.latest)}${r.unit ? ` ${r.unit}` : ""}`;
        const caption = el("figcaption");
        caption.append(
          el("span", { cls: "who", text: `${this.name(r.clientId)} · ${r.sensor}` }),
          el("strong", { cls: "latest", text: value }),
        );
        card.append(caption, chart(r.points));
        return card;
      }),
    );
  }
}

/** "Seen by Ann, Bob, Cy and 2 others". */
export function seenText(names) {
  const sorted = [...names].sort();
  const shown = sorted.slice(0, SEEN_NAMES).join(", ");
  const more = sorted.length - SEEN_NAMES;
  return more > 0 ? `Seen by ${shown} and ${more} other${more > 1 ? "s" : ""}` : `Seen by ${shown}`;
}

function removed(li) {
  return li.classList.contains("deleted");
}

function formatNumber(n) {
  // Two decimals at most: a sensor's noise is not information.
  return String(Math.round(n * 100) / 100);
}

/** A small line chart of ``points`` as inline SVG, built node by node. */
export function chart(points) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${CHART_W} ${CHART_H}`);
  svg.setAttribute("width", String(CHART_W));
  svg.setAttribute("height", String(CHART_H));
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `last ${points.length} readings`);
  if (points.length === 0) return svg;
  const low = Math.min(...points);
  const high = Math.max(...points);
  const span = high - low || 1;
  const step = points.length > 1 ? CHART_W / (points.length - 1) : 0;
  const xy = points.map((p, i) => `${(i * step).toFixed(1)},${(CHART_H - 2 - ((p - low) / span) * (CHART_H - 4)).toFixed(1)}`);
  const line = document.createElementNS(SVG, "polyline");
  line.setAttribute("points", xy.join(" "));
  line.setAttribute("fill", "none");
  line.setAttribute("stroke", "currentColor");
  line.setAttribute("stroke-width", "1.5");
  svg.append(line);
  return svg;
}
