// This site's link to the cloud (docs/sync.md): the Sync component publishes
// its state, retained, on chat/sync/state; the app shows it under the banner.
// Nothing shows where there is no Sync (a site on its own, or the cloud app).
import { $, el } from "./view.js";

export const SYNC_STATE_TOPIC = "chat/sync/state";

/** The line to show for a syncState event (pure, for tests). */
export function syncLine(state) {
  const n = Number.isInteger(state.backlog) ? state.backlog : 0;
  const waiting = `${n} message${n === 1 ? "" : "s"} waiting to sync`;
  if (state.synced) return { status: "synced", text: "Synced with the cloud" };
  if (!state.connected) return { status: "offline", text: n ? `Cloud offline: ${waiting}` : "Cloud offline" };
  return { status: "syncing", text: n ? `Syncing: ${waiting}` : "Syncing with the cloud…" };
}

export class SyncIndicator {
  constructor() {
    this.node = el("p", { cls: "sync-state", attrs: { id: "sync-state", role: "status", "aria-live": "polite" } });
    this.node.hidden = true;
    $("banner").after(this.node);
  }

  onEvent(event) {
    const { status, text } = syncLine(event);
    this.node.dataset.status = status;
    this.node.textContent = text;
    this.node.hidden = false;
  }
}
