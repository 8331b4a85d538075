// Pictures in the chat: attach (file picker, phone camera, paste), upload to
// the core (POST /api/pictures with the session's credential), thumbnails in
// messages (click for the full picture), and each room's tag cloud from the
// Labeler's "tagcloud" events.  Labels and file names are user-influenced:
// everything goes into the page as text or attribute values, through DOM calls.
import { el } from "./view.js";

const SHA = /^[0-9a-f]{64}$/;
const TYPES = new Set(["image/jpeg", "image/png", "image/webp"]);
export const MAX_PICTURES = 4; // per message, as the Router allows
// A phone's 48-200 megapixel photo is over the core's caps (24 MP, 10 MiB):
// such a picture is scaled down here and sent again, as a 12 MP JPEG.
const SHRINK_TO_PIXELS = 12_000_000;
const TOO_BIG = new Set(["picture_too_large", "picture_too_many_pixels"]);
const THUMB_BOX = { width: 224, height: 192 }; // a thumbnail in a message, at most (CSS px)
export const DEFAULT_THRESHOLD = 50; // the Labeler's own floor

export const SITE_TOPIC = "chat/pub/_site"; // the whole site's tag cloud (the Labeler's, retained)
const DEFAULT_BASE = "/pictures/"; // the edge's Web service
let picturesBase = DEFAULT_BASE;
/**
 * Where thumbnails and pictures are read from: config.json's `picturesUrl`
 * (cloud mode: CloudFront's /pictures/* origin beside the app).  A path on this
 * origin only ("/…/"): the page's CSP allows images from 'self', and nothing
 * else is taken from the config as a URL.  Returns the base now in use.
 */
export function setPicturesBase(url) {
  picturesBase = typeof url === "string" && /^\/(?!\/)[A-Za-z0-9._~\/-]*\/$/.test(url) ? url : DEFAULT_BASE;
  return picturesBase;
}
export const pictureUrl = (sha) => `${picturesBase}${sha}`;
export const thumbUrl = (sha) => `${picturesBase}${sha}/thumb`;

const whole = (v, max) => (Number.isInteger(v) && v > 0 && v <= max ? v : null);

/** A message's pictures, checked: anything odd is left out rather than shown. */
export function picturesOf(message) {
  const list = message && Array.isArray(message.attachments) ? message.attachments : [];
  const out = [];
  for (const a of list.slice(0, 64)) {
    if (out.length === MAX_PICTURES) break;
    if (!a || a.kind !== "picture" || !SHA.test(a.sha256) || !TYPES.has(a.type)) continue;
    const thumb = a.thumbnail || {};
    out.push({
      kind: "picture", sha256: a.sha256, type: a.type, bytes: a.bytes,
      width: whole(a.width, 65535), height: whole(a.height, 65535),
      thumbnail: { type: "image/jpeg", width: whole(thumb.width, 65535), height: whole(thumb.height, 65535) },
      labels: labelsOf(a.labels),
    });
  }
  return out;
}

/** [{name, confidence}] from history, or Rekognition's [{Name, Confidence}] from a labels event. */
export function labelsOf(raw) {
  if (!Array.isArray(raw)) return [];
  return raw
    .map((l) => ({ name: l && (l.name ?? l.Name), confidence: l && (l.confidence ?? l.Confidence) }))
    .filter((l) => typeof l.name === "string" && l.name && typeof l.confidence === "number");
}

/** The reference a message carries, from the upload's answer (no URLs, no labels). */
export function attachmentRef(upload) {
  const [ref] = picturesOf({ attachments: [upload] });
  if (!ref) return null;
  const { labels, ...rest } = ref;
  return rest;
}

/**
 * The tag cloud at a confidence threshold: [{label, count, pictures, em}] in
 * alphabetical order.  At or under the Labeler's own threshold its counts hold;
 * above it, a tag counts the pictures it lists at that confidence (a tag lists
 * its most confident pictures, so this is exact unless a label is in very many).
 */
export function cloudTags(cloud, threshold = DEFAULT_THRESHOLD) {
  if (!cloud || !Array.isArray(cloud.tags)) return [];
  const floor = typeof cloud.minConfidence === "number" ? cloud.minConfidence : DEFAULT_THRESHOLD;
  const tags = [];
  for (const tag of cloud.tags) {
    if (!tag || typeof tag.label !== "string" || !tag.label) continue;
    const listed = (Array.isArray(tag.pictures) ? tag.pictures : [])
      .filter((p) => p && SHA.test(p.picture) && typeof p.confidence === "number" && p.confidence >= threshold);
    const count = threshold <= floor && Number.isInteger(tag.count) ? tag.count : listed.length;
    if (count > 0) tags.push({ label: tag.label, count, pictures: listed.map((p) => p.picture) });
  }
  const most = Math.max(1, ...tags.map((t) => t.count));
  for (const tag of tags) {
    // A log scale, so one common label doesn't shrink every other to nothing.
    tag.em = Math.round((0.85 + (1.4 * Math.log(tag.count)) / Math.log(Math.max(2, most))) * 100) / 100;
  }
  return tags.sort((a, b) => a.label.localeCompare(b.label));
}

/** Basic credentials of an edge session (cloud mode has none: no uploads there). */
export function authorization(session) {
  if (!session || typeof session.username !== "string" || typeof session.password !== "string") return null;
  return `Basic ${btoa(`${session.username}:${session.password}`)}`;
}

/** <ul class="pictures"> of thumbnails; each is a button that opens the picture. */
export function pictureStrip(message) {
  const pictures = picturesOf(message);
  if (!pictures.length) return null;
  const strip = el("ul", { cls: "pictures" });
  strip.replaceChildren(...pictures.map((p) => {
    const item = el("li");
    item.append(thumbButton(p.sha256, altText(p.labels), p.thumbnail));
    return item;
  }));
  return strip;
}

function altText(labels) {
  return labels.length ? `Picture: ${labels.slice(0, 5).map((l) => l.name).join(", ")}` : "Picture";
}

function thumbButton(sha, alt, size = {}) {
  const button = el("button", { cls: "thumb", attrs: { type: "button", "data-picture": sha, title: "Show the whole picture" } });
  const img = el("img", { attrs: { src: thumbUrl(sha), alt, loading: "lazy", decoding: "async", "data-sha": sha } });
  if (size.width && size.height) {
    // A definite size before it loads (CSSOM, allowed by the CSP): the log
    // keeps its place instead of jumping when the picture arrives.
    const scale = Math.min(1, THUMB_BOX.width / size.width, THUMB_BOX.height / size.height);
    img.style.width = `${Math.round(size.width * scale)}px`;
    img.style.aspectRatio = `${size.width} / ${size.height}`;
  }
  button.append(img);
  return button;
}

/** The picture as a JPEG of at most SHRINK_TO_PIXELS (a canvas: no markup, allowed by the CSP). */
async function shrink(file) {
  const bitmap = await createImageBitmap(file);
  const scale = Math.min(1, Math.sqrt(SHRINK_TO_PIXELS / (bitmap.width * bitmap.height)));
  const canvas = document.createElement("canvas");
  canvas.width = Math.max(1, Math.floor(bitmap.width * scale));
  canvas.height = Math.max(1, Math.floor(bitmap.height * scale));
  canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  bitmap.close();
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.9));
  return blob ? new File([blob], file.name || "picture.jpg", { type: "image/jpeg" }) : null;
}

export class PictureUi {
  /**
   * @param {{session: () => object|null, room: () => string|null, changed: () => void}} hooks
   *   changed: the staged pictures changed (the composer may now send without text).
   */
  constructor(hooks) {
    this.hooks = hooks;
    this.staged = []; // [{ref, name}]
    this.clouds = new Map(); // room -> the last tagcloud event
    this.siteCloud = null; // the whole site's
    this.scope = "room"; // which one is shown
    this.labels = new Map(); // sha -> labels seen in labels events
    this.threshold = DEFAULT_THRESHOLD;
    this.selected = null; // the tag whose pictures are listed
    this.uploading = 0;
    this.enabled = true; // uploads allowed (edge mode)
  }

  /** Builds the controls beside the composer and the tag cloud in the sidebar. */
  mount(composer, sidebar) {
    const picker = el("input", { cls: "visually-hidden", attrs: { type: "file", id: "picture-input", accept: [...TYPES].join(","), multiple: "" } });
    const camera = el("input", { cls: "visually-hidden", attrs: { type: "file", id: "camera-input", accept: "image/*", capture: "environment" } });
    const attach = el("label", { cls: "attach", text: "Picture", attrs: { for: "picture-input", title: "Attach a picture (or paste one)" } });
    const shoot = el("label", { cls: "attach camera", text: "Camera", attrs: { for: "camera-input", title: "Take a photo" } });
    this.tray = el("ul", { cls: "staged", attrs: { id: "staged-pictures", "aria-label": "Pictures to send" } });
    this.status = el("p", { cls: "error picture-status", attrs: { id: "picture-status", role: "alert" } });
    this.status.hidden = true;
    this.controls = [attach, shoot];
    composer.prepend(picker, camera, attach, shoot);
    composer.after(this.tray, this.status);
    for (const input of [picker, camera]) {
      input.addEventListener("change", () => {
        this.add([...input.files]);
        input.value = "";
      });
    }
    composer.addEventListener("paste", (event) => {
      if (!this.enabled) return; // cloud mode: a pasted picture stays text-less, as before
      const files = [...(event.clipboardData ? event.clipboardData.files : [])].filter((f) => f.type.startsWith("image/"));
      if (files.length) {
        event.preventDefault();
        this.add(files);
      }
    });
    this.tray.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-unstage]");
      if (!button) return;
      this.staged = this.staged.filter((s) => s.ref.sha256 !== button.dataset.unstage);
      this.renderTray();
    });

    this.cloud = el("section", { cls: "tagcloud", attrs: { id: "tagcloud", "aria-labelledby": "tagcloud-title" } });
    const head = el("h2", { text: "In the pictures", attrs: { id: "tagcloud-title" } });
    const scopes = el("div", { cls: "scopes", attrs: { role: "group", "aria-label": "Whose pictures" } });
    this.scopeButtons = [["room", "This room"], ["site", "Whole site"]].map(([scope, text]) => {
      const button = el("button", { text, attrs: { type: "button", "data-scope": scope, "aria-pressed": String(scope === this.scope) } });
      button.addEventListener("click", () => {
        this.scope = scope;
        this.selected = null;
        for (const b of this.scopeButtons) b.setAttribute("aria-pressed", String(b.dataset.scope === scope));
        this.renderCloud();
      });
      return button;
    });
    scopes.append(...this.scopeButtons);
    const slider = el("input", { attrs: { type: "range", id: "tag-threshold", min: "50", max: "95", step: "5", value: String(this.threshold) } });
    const sliderLabel = el("label", { attrs: { for: "tag-threshold" } });
    this.thresholdText = el("span", { text: `${this.threshold}%` });
    sliderLabel.append("Confidence at least ", this.thresholdText);
    slider.addEventListener("input", () => {
      this.threshold = Number(slider.value);
      this.thresholdText.textContent = `${this.threshold}%`;
      this.renderCloud();
    });
    this.words = el("ul", { cls: "tags", attrs: { id: "tags", "aria-label": "Labels of the room's pictures" } });
    this.words.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-tag]");
      if (!button) return;
      this.selected = this.selected === button.dataset.tag ? null : button.dataset.tag;
      this.renderCloud();
    });
    this.tagged = el("div", { cls: "tagged", attrs: { id: "tagged-pictures" } });
    this.empty = el("p", { cls: "hint", text: "No labelled pictures here yet." });
    this.cloud.append(head, scopes, sliderLabel, slider, this.words, this.tagged, this.empty);
    sidebar.append(this.cloud);

    this.viewer = el("dialog", { cls: "viewer", attrs: { id: "picture-viewer", "aria-label": "Picture" } });
    this.viewerFrame = el("div", { cls: "frame" }); // the <img> is made when a picture is shown
    this.viewerLabels = el("p", { cls: "labels" });
    const close = el("button", { text: "Close", attrs: { type: "button", autofocus: "" } });
    close.addEventListener("click", () => this.viewer.close());
    this.viewer.addEventListener("click", (event) => {
      if (event.target === this.viewer) this.viewer.close(); // a click beside the picture
    });
    this.viewer.append(this.viewerFrame, this.viewerLabels, close);
    this.viewer.addEventListener("close", () => this.viewerFrame.replaceChildren());
    document.body.append(this.viewer);
    // Any thumbnail anywhere (messages, the cloud's list) opens the whole picture.
    document.addEventListener("click", (event) => {
      const button = event.target.closest && event.target.closest("button[data-picture]");
      if (button && SHA.test(button.dataset.picture)) this.show(button.dataset.picture, button.querySelector("img"));
    });
    this.renderCloud();
  }

  /** Uploads are for edge sessions: the cloud has no upload path (its pictures
   * come from sites, through Sync), so in cloud mode the attach buttons are hidden. */
  setEnabled(enabled) {
    this.enabled = enabled;
    for (const control of this.controls) control.hidden = !enabled;
  }

  show(sha, img) {
    this.viewerFrame.replaceChildren(el("img", { attrs: { src: pictureUrl(sha), alt: img ? img.alt : "Picture" } }));
    const labels = this.labels.get(sha) || [];
    this.viewerLabels.textContent = labels.length
      ? labels.map((l) => `${l.name} ${Math.round(l.confidence)}%`).join(" · ")
      : "";
    if (!this.viewer.open) this.viewer.showModal();
  }

  /** Pictures to send with the next message; clears the tray. */
  take() {
    const refs = this.staged.map((s) => s.ref);
    this.staged = [];
    this.renderTray();
    return refs;
  }

  get busy() {
    return this.uploading > 0;
  }

  async add(files) {
    this.say("");
    for (const file of files) {
      if (this.staged.length + this.uploading >= MAX_PICTURES) {
        this.say(`At most ${MAX_PICTURES} pictures in one message.`);
        break;
      }
      this.uploading += 1;
      this.renderTray();
      try {
        const ref = await this.upload(file);
        if (ref && !this.staged.some((s) => s.ref.sha256 === ref.sha256)) this.staged.push({ ref, name: file.name || "pasted picture" });
      } finally {
        this.uploading -= 1;
        this.renderTray();
      }
    }
  }

  async upload(file, shrunk = false) {
    const auth = authorization(this.hooks.session());
    if (!auth) {
      this.say("Pictures can be sent only through this site's own chat service.");
      return null;
    }
    let response;
    let body = {};
    try {
      response = await fetch("/api/pictures", {
        method: "POST", body: file, credentials: "same-origin", cache: "no-store",
        headers: { Authorization: auth, "Content-Type": "application/octet-stream" },
      });
      body = await response.json().catch(() => ({}));
    } catch {
      this.say(`${file.name || "The picture"} was not sent: the site can't be reached.`);
      return null;
    }
    if (!response.ok && !shrunk && TOO_BIG.has(body.code)) {
      const smaller = await shrink(file).catch(() => null);
      if (smaller) return this.upload(smaller, true);
    }
    if (!response.ok) {
      const why = typeof body.message === "string" ? body.message : `HTTP ${response.status}`;
      this.say(`${file.name || "The picture"} was not sent: ${why}`);
      return null;
    }
    const ref = attachmentRef(body);
    if (!ref) this.say("The site's answer about the picture made no sense.");
    return ref;
  }

  say(text) {
    this.status.textContent = text;
    this.status.hidden = !text;
  }

  renderTray() {
    this.tray.replaceChildren(...this.staged.map((s) => {
      const item = el("li");
      const img = el("img", { attrs: { src: thumbUrl(s.ref.sha256), alt: s.name } });
      const remove = el("button", { text: "✕", attrs: { type: "button", "data-unstage": s.ref.sha256, "aria-label": `Remove ${s.name}`, title: `Remove ${s.name}` } });
      item.append(img, el("span", { cls: "name", text: s.name }), remove);
      return item;
    }));
    if (this.uploading) this.tray.append(el("li", { cls: "uploading", text: "Uploading…" }));
    this.hooks.changed();
  }

  // ---- events from the room

  onEvent(event) {
    if (event.type === "labels" && SHA.test(event.picture)) {
      const labels = labelsOf(event.labels);
      this.labels.set(event.picture, labels);
      for (const img of document.querySelectorAll(`img[data-sha="${event.picture}"]`)) img.alt = altText(labels);
    } else if (event.type === "tagcloud" && event.scope === "site") {
      this.siteCloud = event;
      if (this.scope === "site") this.renderCloud();
    } else if (event.type === "tagcloud" && typeof event.room === "string") {
      this.clouds.set(event.room, event);
      if (event.room === this.hooks.room() && this.scope === "room") this.renderCloud();
    }
  }

  /** Labels a history page brought (so the viewer can show them). */
  remember(message) {
    for (const p of picturesOf(message)) if (p.labels.length) this.labels.set(p.sha256, p.labels);
  }

  enterRoom() {
    this.selected = null;
    if (this.cloud) this.renderCloud();
  }

  renderCloud() {
    const room = this.hooks.room();
    const cloud = this.scope === "site" ? this.siteCloud : room ? this.clouds.get(room) : null;
    const tags = cloudTags(cloud, this.threshold);
    if (this.selected && !tags.some((t) => t.label === this.selected)) this.selected = null;
    this.words.replaceChildren(...tags.map((tag) => {
      const button = el("button", {
        cls: "tag", text: tag.label,
        attrs: { type: "button", "data-tag": tag.label, "data-count": String(tag.count), title: `${tag.count} picture${tag.count === 1 ? "" : "s"}`, "aria-pressed": String(tag.label === this.selected) },
      });
      button.style.fontSize = `${tag.em}em`; // CSSOM, not markup: allowed by the CSP
      const item = el("li");
      item.append(button);
      return item;
    }));
    this.empty.hidden = tags.length > 0;
    const chosen = tags.find((t) => t.label === this.selected);
    this.tagged.replaceChildren();
    if (chosen) {
      const list = el("ul", { cls: "pictures", attrs: { "aria-label": `Pictures with ${chosen.label}` } });
      list.append(...chosen.pictures.map((sha) => {
        const item = el("li");
        item.append(thumbButton(sha, `Picture with ${chosen.label}`));
        return item;
      }));
      this.tagged.append(el("h3", { text: chosen.label }), list);
    }
  }
}
