// High-volume events (docs/stream.md): who is typing, reactions on messages,
// and the readings LAN devices publish into the room.  Sent on
// chat/stream/{me}; the Stream component answers with one "activity" event per
// room per micro-batch.  Everything is built with DOM calls: text is data.
import { $, el } from "./view.js";

const TYPING_EVERY_MS = 2_000; // repeat while typing: the Stream forgets after 6 s
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
      for (const r of records) {
        if (r.type === "attributes") this.showBar(r.target);
        else if (r.target === list) for (const node of r.addedNodes) if (node.nodeType === 1) this.decorate(node);
      }
    }).observe(list, { childList: true, subtree: true, attributes: true, attributeFilter: ["class"] });
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

  decorate(li) {
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
