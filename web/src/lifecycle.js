// A message's life after it is sent: reply, edit and delete (docs/protocol.md).
// Edits happen in place in the message; a reply shows what it answers.  All
// text goes in through textContent.
import { ulid } from "./ids.js";
import { $, el } from "./view.js";

const EXCERPT = 80;

export class Lifecycle {
  /**
   * ctx: { send(event): bool, me(), room(), lookup(id): message|undefined,
   *        moderator(): bool, windowMs: number, scrollTo(id) }
   */
  constructor(ctx, list) {
    this.ctx = ctx;
    this.replyTo = null; // {id, nick, text}
    this.chip = el("div", { cls: "reply-chip", attrs: { id: "reply-chip" } });
    this.chip.hidden = true;
    $("composer").before(this.chip);
    list.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-action]");
      if (!button) return;
      const node = button.closest("li");
      const action = button.dataset.action;
      if (action === "reply") this.startReply(node.dataset.id);
      else if (action === "edit") this.startEdit(node);
      else if (action === "delete") this.remove(node.dataset.id);
      else if (action === "save") this.saveEdit(node);
      else if (action === "cancel") this.stopEdit(node);
      else if (action === "goto") this.ctx.scrollTo(button.dataset.target);
    });
  }

  // ---- replies

  startReply(id) {
    const target = this.ctx.lookup(id);
    if (!target) return;
    this.replyTo = { id, nick: target.nick, text: target.text };
    this.chip.replaceChildren(
      el("span", { text: `Replying to ${target.nick || "(no name)"}: ` }),
      el("span", { cls: "excerpt", text: excerpt(target) }),
      " ",
    );
    const cancel = el("button", { text: "Cancel", attrs: { type: "button", "aria-label": "Cancel the reply" } });
    cancel.addEventListener("click", () => this.takeReply());
    this.chip.append(cancel);
    this.chip.hidden = false;
    $("text").focus();
  }

  /** The id the next message answers (and forget it). */
  takeReply() {
    const id = this.replyTo ? this.replyTo.id : undefined;
    this.replyTo = null;
    this.chip.hidden = true;
    this.chip.replaceChildren();
    return id;
  }

  // ---- edit and delete

  mayChange(item) {
    if (item.state !== "sent" || item.deleted) return false;
    return item.clientId === this.ctx.me() && Date.now() - (item.ts || 0) < this.ctx.windowMs();
  }

  startEdit(node) {
    const item = this.ctx.lookup(node.dataset.id);
    if (!item || node.dataset.editing) return;
    node.dataset.editing = "1";
    const box = el("textarea", { cls: "edit-box", attrs: { rows: "2", "aria-label": "Edit your message" } });
    box.value = item.text;
    const save = el("button", { text: "Save", attrs: { type: "button", "data-action": "save" } });
    const cancel = el("button", { text: "Cancel", attrs: { type: "button", "data-action": "cancel" } });
    const editor = el("div", { cls: "editor" });
    editor.append(box, save, cancel);
    box.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.saveEdit(node);
      } else if (event.key === "Escape") this.stopEdit(node);
    });
    node.querySelector(".text").after(editor);
    box.focus();
  }

  saveEdit(node) {
    const box = node.querySelector(".edit-box");
    const item = this.ctx.lookup(node.dataset.id);
    if (!box || !item) return;
    const text = box.value.trim() ? box.value : "";
    if (text && text !== item.text) {
      this.ctx.send({ type: "edit", id: ulid(), target: item.id, room: item.room, text });
    }
    this.stopEdit(node);
  }

  stopEdit(node) {
    delete node.dataset.editing;
    const editor = node.querySelector(".editor");
    if (editor) editor.remove();
  }

  remove(id) {
    const item = this.ctx.lookup(id);
    if (!item) return;
    this.ctx.send({ type: "delete", id: ulid(), target: id, room: item.room });
  }

  // ---- rendering (MessageList calls this after each update of a node)

  refresh(node, item) {
    const shown = item.deleted ? "Message deleted" : item.text;
    const body = node.querySelector(".text");
    if (body.textContent !== shown) body.textContent = shown;
    node.classList.toggle("deleted", Boolean(item.deleted));
    node.classList.toggle("edited", Boolean(item.edited) && !item.deleted);
    let mark = node.querySelector(".edited-mark");
    if (item.edited && !item.deleted && !mark) {
      mark = el("span", { cls: "edited-mark", text: " (edited)" });
      node.querySelector(".meta").append(mark);
    } else if (mark && (!item.edited || item.deleted)) mark.remove();
    this.replyRef(node, item);
    this.actions(node, item);
  }

  replyRef(node, item) {
    let ref = node.querySelector(".reply-ref");
    if (!item.replyTo || item.deleted) {
      if (ref) ref.remove();
      return;
    }
    const target = this.ctx.lookup(item.replyTo);
    const label = target
      ? `↪ ${target.nick || "(no name)"}: ${excerpt(target)}`
      : "↪ a message not loaded here";
    if (ref && ref.textContent === label) return;
    const fresh = el("button", {
      cls: "reply-ref", text: label,
      attrs: { type: "button", "data-action": "goto", "data-target": item.replyTo },
    });
    if (ref) ref.replaceWith(fresh);
    else node.querySelector(".text").before(fresh);
  }

  actions(node, item) {
    const want = [];
    if (item.state === "sent" && !item.deleted) want.push("reply");
    if (this.mayChange(item)) want.push("edit");
    if (this.mayChange(item) || (this.ctx.moderator() && item.state === "sent" && !item.deleted)) want.push("delete");
    const key = want.join(",");
    let bar = node.querySelector(".actions");
    if (bar && bar.dataset.key === key) return;
    if (!bar) {
      bar = el("span", { cls: "actions" });
      node.querySelector(".meta").append(bar);
    }
    bar.dataset.key = key;
    const label = { reply: "Reply", edit: "Edit", delete: "Delete" };
    bar.replaceChildren(
      ...want.map((a) => el("button", { cls: `act ${a}`, text: label[a], attrs: { type: "button", "data-action": a } })),
    );
  }
}

function excerpt(message) {
  if (message.deleted) return "(deleted)";
  const t = String(message.text || "").replace(/\s+/g, " ");
  return t.length > EXCERPT ? `${t.slice(0, EXCERPT)}…` : t;
}
