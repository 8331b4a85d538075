// What the app knows of one room: its messages by id (so nothing shows twice),
// the sequence numbers seen (to find gaps), and the paging cursor.  No DOM.

export class RoomView {
  constructor(room) {
    this.room = room;
    this.byId = new Map();
    this.maxSeq = 0; // highest per-room sequence number seen from this site
    this.oldestSeq = null; // lowest seen: "load older" asks for before this
    this.hasOlder = false;
    this.loaded = false; // the first history page arrived
    this.members = new Map(); // clientId -> nick
  }

  /**
   * Adds a stored message (live, from history or built from an ack).
   * Returns {added, gapAfter}: gapAfter is the seq to backfill from when this
   * message shows that some were missed, else null.
   */
  add(message) {
    const seq = Number.isInteger(message.seq) ? message.seq : null;
    const known = this.byId.get(message.id);
    this.byId.set(message.id, known ? { ...known, ...message } : message);
    let gapAfter = null;
    if (seq !== null) {
      if (this.loaded && seq > this.maxSeq + 1) gapAfter = this.maxSeq;
      this.maxSeq = Math.max(this.maxSeq, seq);
      this.oldestSeq = this.oldestSeq === null ? seq : Math.min(this.oldestSeq, seq);
    }
    return { added: !known, gapAfter };
  }

  /** Messages in display order: the order key every replica agrees on. */
  sorted() {
    return [...this.byId.values()].sort((a, b) => compareKeys(a, b));
  }
}

function compareKeys(a, b) {
  const ka = a.orderKey || "";
  const kb = b.orderKey || "";
  if (ka !== kb) return ka < kb ? -1 : 1;
  return (a.seq || 0) - (b.seq || 0);
}
