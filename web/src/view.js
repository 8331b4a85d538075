// DOM output.  Every piece of user content (text, nick, room name) goes in
// through textContent or an attribute value, never through innerHTML: text
// is data, never markup.
const GROUP_WINDOW_MS = 5 * 60 * 1000;

export const $ = (id) => document.getElementById(id);

export function el(tag, { cls, text, attrs } = {}) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
  return node;
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dateTimeFormat = new Intl.DateTimeFormat(undefined, {
  month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
});

/** Local time for a message: the time today, date and time before. */
export function formatTime(ts, now = new Date()) {
  const when = new Date(ts);
  return when.toDateString() === now.toDateString() ? timeFormat.format(when) : dateTimeFormat.format(when);
}

const STATE_LABEL = { pending: "Sending…", queued: "Waiting for connection", failed: "Not sent" };

export class MessageList {
  /** decorate(item): an extra node for a message (its pictures), or null. */
  constructor(list, onRetry, decorate = () => null) {
    this.list = list;
    this.decorate = decorate;
    this.nodes = new Map(); // id -> <li>
    list.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-retry]");
      if (button) onRetry(button.closest("li").dataset.id);
    });
  }

  clear() {
    this.nodes.clear();
    this.list.replaceChildren();
  }

  /** items: display-ordered {id, clientId, nick, ts, text, seq?, state}. */
  render(items, myClientId) {
    let cursor = this.list.firstChild;
    const keep = new Set();
    let previous = null;
    for (const item of items) {
      keep.add(item.id);
      let node = this.nodes.get(item.id);
      if (!node) {
        node = this.build(item, myClientId);
        this.nodes.set(item.id, node);
      }
      this.update(node, item);
      const grouped = previous !== null && previous.clientId === item.clientId
        && Math.abs((item.ts || 0) - (previous.ts || 0)) < GROUP_WINDOW_MS;
      node.classList.toggle("cont", grouped);
      previous = item;
      if (node === cursor) cursor = cursor.nextSibling;
      else this.list.insertBefore(node, cursor);
    }
    for (const [id, node] of this.nodes) {
      if (!keep.has(id)) {
        node.remove();
        this.nodes.delete(id);
      }
    }
  }

  build(item, myClientId) {
    const node = el("li", { cls: "msg", attrs: { "data-id": item.id, "data-sender": item.clientId || "" } });
    if (item.clientId === myClientId) node.classList.add("mine");
    const meta = el("div", { cls: "meta" });
    meta.append(el("span", { cls: "nick", text: item.nick || "(no name)" }), " ");
    const time = el("time", { cls: "time" });
    meta.append(time);
    const status = el("span", { cls: "status" });
    const retry = el("button", { cls: "retry", text: "Retry", attrs: { type: "button", "data-retry": "" } });
    node.append(meta, el("div", { cls: "text", text: item.text }));
    const extra = this.decorate(item);
    if (extra) node.append(extra);
    node.append(status, retry);
    return node;
  }

  update(node, item) {
    const state = item.state || "sent";
    const label = state === "failed" && item.error ? `Not sent: ${item.error}` : STATE_LABEL[state] || "";
    const status = node.querySelector(".status");
    if (node.dataset.state !== state || status.textContent !== label) {
      node.dataset.state = state;
      status.textContent = label;
      node.querySelector(".retry").hidden = state !== "failed";
    }
    if (item.seq !== undefined && item.seq !== null) node.dataset.seq = String(item.seq);
    const time = node.querySelector("time");
    if (item.ts && time.dataset.ts !== String(item.ts)) {
      time.dataset.ts = String(item.ts);
      time.dateTime = new Date(item.ts).toISOString();
      time.title = new Date(item.ts).toLocaleString();
      time.textContent = formatTime(item.ts);
    }
    if (this.onUpdate) this.onUpdate(node, item); // lifecycle.js: edits, deletes, replies
  }
}

export function renderRooms(list, rooms, current) {
  list.replaceChildren(
    ...rooms.map((info) => {
      const link = el("a", { text: `#${info.room}`, attrs: { href: `#/room/${encodeURIComponent(info.room)}` } });
      if (info.room === current) link.setAttribute("aria-current", "page");
      const count = el("span", {
        cls: "count",
        text: String(info.members || 0),
        attrs: { title: `${info.members || 0} here now`, "aria-label": `${info.members || 0} here now` },
      });
      const item = el("li", { attrs: { "data-room": info.room } });
      item.append(link, count);
      return item;
    }),
  );
}

export function renderMembers(list, members, myClientId) {
  const sorted = [...members.entries()].sort((a, b) => String(a[1]).localeCompare(String(b[1])));
  list.replaceChildren(
    ...sorted.map(([clientId, nick]) => {
      const item = el("li", { text: nick || "(no name)", attrs: { "data-client-id": clientId } });
      if (clientId === myClientId) item.append(el("span", { cls: "you", text: " (you)" }));
      return item;
    }),
  );
}
