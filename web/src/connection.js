// One MQTT-over-WebSockets connection with our own reconnect loop: mqtt.js's
// built-in one retries at a fixed period, and a site full of phones coming
// back after a broker restart should spread out (exponential backoff, jitter).
import mqtt from "mqtt";

const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 10_000;
// CONNACK reason codes that mean "these credentials are no good": retrying
// the same ones won't help; the app asks for a new session instead.
const AUTH_FAILED = new Set([4, 5, 134, 135]);

export class Connection {
  /**
   * @param {{url: string, session: {clientId: string, username?: string, password?: string},
   *          topics: () => string[], onStatus: (status: string, detail?: object) => void,
   *          onConnect: () => void, onMessage: (topic: string, event: object) => void,
   *          onAuthFailed: () => void}} options
   */
  constructor(options) {
    this.options = options;
    this.client = null;
    this.attempts = 0;
    this.timer = null;
    this.stopped = false;
    this.online = navigator.onLine !== false;
    this.onOffline = () => this.goOffline();
    this.onOnline = () => this.goOnline();
    window.addEventListener("offline", this.onOffline);
    window.addEventListener("online", this.onOnline);
  }

  get connected() {
    return Boolean(this.client && this.client.connected);
  }

  start() {
    if (this.online) this.attempt();
    else this.options.onStatus("offline");
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    window.removeEventListener("offline", this.onOffline);
    window.removeEventListener("online", this.onOnline);
    this.drop();
  }

  /** Retry at once (the banner's "Retry now" button). */
  retryNow() {
    if (this.stopped || this.connected || !this.online) return;
    clearTimeout(this.timer);
    this.timer = null;
    this.attempt();
  }

  /** Connect from now on to `url` (cloud mode: a freshly presigned one, as
   *  the credentials in the old one are about to expire), reconnecting at once. */
  renew(url) {
    this.options.url = url;
    if (this.stopped || !this.online) return;
    clearTimeout(this.timer);
    this.timer = null;
    this.attempts = 0;
    this.attempt();
  }

  publish(event) {
    if (!this.connected) return false;
    const { clientId } = this.options.session;
    this.client.publish(`chat/out/${clientId}`, JSON.stringify(event), { qos: 1 });
    return true;
  }

  /** A high-volume event on chat/stream/{me} (docs/stream.md): QoS 0, not
   *  kept while offline (a late "typing" or reaction click means nothing). */
  stream(event) {
    if (!this.connected) return false;
    const { clientId } = this.options.session;
    this.client.publish(`chat/stream/${clientId}`, JSON.stringify(event), { qos: 0 });
    return true;
  }

  subscribe(topic) {
    if (this.connected) this.client.subscribe(topic, { qos: 1 });
  }

  unsubscribe(topic) {
    if (this.connected) this.client.unsubscribe(topic);
  }

  drop() {
    const client = this.client;
    this.client = null;
    if (client) {
      client.removeAllListeners();
      client.on("error", () => {}); // late errors from a client we let go of
      client.end(true);
    }
  }

  goOffline() {
    // The browser says the network is gone: a WebSocket can linger half-open
    // for a long time, so stop now and come back when it returns.
    this.online = false;
    clearTimeout(this.timer);
    this.timer = null;
    this.drop();
    if (!this.stopped) this.options.onStatus("offline");
  }

  goOnline() {
    this.online = true;
    if (!this.stopped && !this.connected) this.retryNow();
  }

  attempt() {
    this.drop();
    const { url, session } = this.options;
    this.options.onStatus(this.attempts === 0 ? "connecting" : "reconnecting", { attempt: this.attempts });
    const client = mqtt.connect(url, {
      clientId: session.clientId,
      username: session.username,
      password: session.password,
      protocolVersion: 5,
      clean: true,
      keepalive: 20,
      connectTimeout: 5_000,
      reconnectPeriod: 0,
      resubscribe: false,
      // The Router hears "bye" when this connection dies without saying it.
      will: { topic: `chat/out/${session.clientId}`, payload: JSON.stringify({ type: "bye" }), qos: 1 },
    });
    this.client = client;
    let authFailed = false;
    client.on("connect", () => {
      this.attempts = 0;
      const topics = [`chat/in/${session.clientId}`, ...this.options.topics()];
      client.subscribe(topics, { qos: 1 }, (err) => {
        if (err || this.client !== client) return;
        this.options.onStatus("connected");
        this.options.onConnect();
      });
    });
    client.on("message", (topic, payload) => {
      let event;
      try {
        event = JSON.parse(new TextDecoder().decode(payload));
      } catch {
        return; // not ours to display
      }
      if (event && typeof event === "object" && typeof event.type === "string") {
        this.options.onMessage(topic, event);
      }
    });
    client.on("error", (err) => {
      if (AUTH_FAILED.has(err && err.code)) authFailed = true;
    });
    client.on("close", () => {
      if (this.client !== client || this.stopped) return;
      this.drop();
      if (authFailed) {
        this.options.onAuthFailed();
        return;
      }
      this.scheduleRetry();
    });
  }

  scheduleRetry() {
    if (this.timer || !this.online) return;
    const base = Math.min(BACKOFF_FIRST_MS * 2 ** this.attempts, BACKOFF_MAX_MS);
    const delay = Math.round(base * (0.5 + Math.random() * 0.5));
    this.attempts += 1;
    this.options.onStatus("reconnecting", { inMs: delay, attempt: this.attempts });
    this.timer = setTimeout(() => {
      this.timer = null;
      this.attempt();
    }, delay);
  }
}
