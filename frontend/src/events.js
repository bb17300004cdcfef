// One reconnecting WebSocket client for /ws/events/ (alerts and camera status), shared by the map
// and the alert panel: one socket per page, however many listeners. Reconnects by itself with
// exponential back-off plus jitter, and tells its listeners when the feed is down so the page can
// say so (a silent feed would look like a quiet city). Messages are parsed and checked here;
// anything that is not a known event is dropped.

export const EVENTS_PATH = "/ws/events/";
const PING_MS = 20000;
const BASE_DELAY_MS = 1000;
const MAX_DELAY_MS = 30000;
// The server says "hello" once it has joined this socket to its groups: only then are events
// sure to arrive, so only then is the feed "connected" (a page that reloads its list on connect
// then misses nothing). A server that never says hello is taken as connected after a grace time.
const HELLO_GRACE_MS = 3000;
const KNOWN_TYPES = new Set(["hello", "alert.created", "alert.updated", "camera.status", "pong"]);

// Delay before reconnect attempt `attempt` (0-based): doubling from 1 s up to 30 s, with up to 20%
// jitter so that a control room full of browsers does not reconnect in lockstep after a restart.
export function reconnectDelay(attempt, random = Math.random) {
  const base = Math.min(BASE_DELAY_MS * 2 ** Math.max(0, attempt), MAX_DELAY_MS);
  return Math.round(base * (1 + 0.2 * random()));
}

// A server frame as an event object, or null for anything malformed or unknown.
export function parseEvent(data) {
  let message;
  try {
    message = JSON.parse(data);
  } catch {
    return null;
  }
  if (!message || typeof message !== "object" || !KNOWN_TYPES.has(message.type)) return null;
  if (message.type.startsWith("alert.") && !(message.alert && Number.isInteger(message.alert.id))) return null;
  if (message.type === "camera.status" && !(message.camera && Number.isInteger(message.camera.id))) return null;
  return message;
}

export function eventsUrl(location) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.host}${EVENTS_PATH}`;
}

class EventsClient {
  constructor(url, { WebSocketImpl = globalThis.WebSocket, timers = globalThis } = {}) {
    this.url = url;
    this.WebSocketImpl = WebSocketImpl;
    this.timers = timers;
    this.listeners = new Map(); // type -> Set of callbacks; "*" gets every event
    this.stateListeners = new Set();
    this.state = "connecting";
    this.attempt = 0;
    this.connects = 0; // successful opens: a second one means events may have been missed
    this.retryAt = null;
    this.socket = null;
    this.pingTimer = null;
    this.open();
  }

  on(type, callback) {
    if (!this.listeners.has(type)) this.listeners.set(type, new Set());
    this.listeners.get(type).add(callback);
    return () => this.listeners.get(type).delete(callback);
  }

  // callback(state, info): state is "connecting" | "connected" | "down"; info.reconnected is true
  // on every open after the first (listeners reload what they may have missed), info.retryAt is
  // when the next attempt is due while down.
  onState(callback) {
    this.stateListeners.add(callback);
    callback(this.state, { reconnected: false, retryAt: this.retryAt });
    return () => this.stateListeners.delete(callback);
  }

  setState(state, info = {}) {
    this.state = state;
    for (const callback of this.stateListeners) callback(state, { reconnected: false, retryAt: this.retryAt, ...info });
  }

  open() {
    let socket;
    try {
      socket = new this.WebSocketImpl(this.url);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
    let subscribed = false;
    const subscribe = () => {
      if (subscribed || this.socket !== socket) return;
      subscribed = true;
      this.attempt = 0;
      this.retryAt = null;
      this.connects += 1;
      this.setState("connected", { reconnected: this.connects > 1 });
    };
    socket.addEventListener("open", () => {
      this.pingTimer = this.timers.setInterval(() => this.send({ type: "ping" }), PING_MS);
      this.timers.setTimeout(subscribe, HELLO_GRACE_MS);
    });
    socket.addEventListener("message", (event) => {
      const message = parseEvent(event.data);
      if (!message || message.type === "pong") return;
      if (message.type === "hello") {
        subscribe();
        return;
      }
      for (const key of [message.type, "*"]) {
        for (const callback of this.listeners.get(key) ?? []) {
          try {
            callback(message);
          } catch (error) {
            // One listener's bug must not starve the others of events.
            console.warn("live event listener failed", error);
          }
        }
      }
    });
    socket.addEventListener("close", () => {
      this.timers.clearInterval(this.pingTimer);
      this.socket = null;
      this.scheduleReconnect();
    });
  }

  scheduleReconnect() {
    const delay = reconnectDelay(this.attempt);
    this.attempt += 1;
    this.retryAt = Date.now() + delay;
    this.setState("down");
    this.timers.setTimeout(() => {
      this.setState("connecting");
      this.open();
    }, delay);
  }

  send(message) {
    if (this.socket && this.socket.readyState === 1) this.socket.send(JSON.stringify(message));
  }
}

export function createEventsClient(url, options) {
  return new EventsClient(url, options);
}

let shared = null;

// The page's one events client, opened on first use.
export function liveEvents() {
  if (!shared) shared = createEventsClient(eventsUrl(window.location));
  return shared;
}
