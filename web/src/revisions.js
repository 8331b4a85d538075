// How a page applies messageEdited / messageRemoved to a message it shows:
// the same merge as the store (core/lifecycle.py), so every page converges
// whatever order revisions arrive in.  No DOM.

/** The message after ``event``, or null when the event changes nothing. */
export function applyRevision(known, event) {
  if (!known || known.deleted) return null; // a delete is final
  if (event.type === "messageRemoved") return { ...known, text: "", deleted: true, attachments: undefined };
  if (event.type !== "messageEdited" || typeof event.text !== "string" || typeof event.orderKey !== "string") {
    return null;
  }
  if (known.editKey && event.orderKey <= known.editKey) return null; // an older edit, late
  return { ...known, text: event.text, edited: true, editKey: event.orderKey };
}
