// The shared live-events client: back-off, message checking, reconnect and state reporting,
// driven with a fake WebSocket and fake timers.
import assert from "node:assert/strict";
import { test } from "node:test";

import { createEventsClient, eventsUrl, parseEvent, reconnectDelay } from "../src/events.js";

test("reconnectDelay doubles from 1 s to a 30 s ceiling, with at most 20% jitter", () => {
  const none = () => 0;
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6].map((n) => reconnectDelay(n, none)), [1000, 2000, 4000, 8000, 16000, 30000, 30000]);
  assert.equal(reconnectDelay(0, () => 1), 1200);
});

test("parseEvent keeps known, well-formed events and drops the rest", () => {
  assert.equal(parseEvent("not json"), null);
  assert.equal(parseEvent(JSON.stringify({ type: "shell.exec" })), null);
  assert.equal(parseEvent(JSON.stringify({ type: "alert.created" })), null);
  assert.equal(parseEvent(JSON.stringify({ type: "camera.status", camera: { id: "7" } })), null);
  assert.equal(parseEvent(JSON.stringify({ type: "alert.created", alert: { id: 7 } })).alert.id, 7);
  assert.equal(parseEvent(JSON.stringify({ type: "camera.status", camera: { id: 3 } })).camera.id, 3);
  assert.equal(parseEvent("null"), null);
});

test("eventsUrl follows the page's scheme", () => {
  assert.equal(eventsUrl({ protocol: "https:", host: "fr.example" }), "wss://fr.example/ws/events/");
  assert.equal(eventsUrl({ protocol: "http:", host: "127.0.0.1:8000" }), "ws://127.0.0.1:8000/ws/events/");
});

class FakeSocket {
  static made = [];
  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.handlers = {};
    this.sent = [];
    FakeSocket.made.push(this);
  }
  addEventListener(type, handler) {
    (this.handlers[type] ??= []).push(handler);
  }
  emit(type, event = {}) {
    if (type === "open") this.readyState = 1;
    if (type === "close") this.readyState = 3;
    for (const handler of this.handlers[type] ?? []) handler(event);
  }
  send(data) {
    this.sent.push(data);
  }
}

function fakeTimers() {
  const timers = { pending: [], intervals: [] };
  timers.setTimeout = (fn, ms) => timers.pending.push({ fn, ms });
  timers.setInterval = (fn, ms) => timers.intervals.push({ fn, ms }) && timers.intervals.length;
  timers.clearInterval = () => {};
  return timers;
}

test("client reports state, hands events to listeners, reconnects with back-off", () => {
  FakeSocket.made = [];
  const timers = fakeTimers();
  const client = createEventsClient("ws://x/ws/events/", { WebSocketImpl: FakeSocket, timers });
  const states = [];
  client.onState((state, info) => states.push([state, info.reconnected]));
  const alerts = [];
  const everything = [];
  client.on("alert.created", (message) => alerts.push(message.alert.id));
  client.on("*", (message) => everything.push(message.type));
  client.on("alert.created", () => {
    throw new Error("a broken listener");
  });

  const first = FakeSocket.made[0];
  first.emit("open");
  assert.equal(client.state, "connecting"); // open, but not yet joined to its groups
  const hello = JSON.stringify({ type: "hello", groups: 1 });
  first.emit("message", { data: hello });
  assert.equal(client.state, "connected");
  timers.pending.shift().fn(); // the grace timer of a socket already subscribed does nothing
  first.emit("message", { data: JSON.stringify({ type: "alert.created", alert: { id: 1 } }) });
  first.emit("message", { data: JSON.stringify({ type: "camera.status", camera: { id: 2 } }) });
  first.emit("message", { data: JSON.stringify({ type: "pong" }) });
  first.emit("message", { data: "garbage" });
  assert.deepEqual(alerts, [1]); // "hello" and "pong" are not events
  assert.deepEqual(everything, ["alert.created", "camera.status"]);

  // ping keeps the socket alive
  timers.intervals[0].fn();
  assert.deepEqual(first.sent, [JSON.stringify({ type: "ping" })]);

  first.emit("close");
  assert.equal(client.state, "down");
  assert.ok(timers.pending[0].ms >= 1000 && timers.pending[0].ms <= 1200);
  timers.pending.shift().fn();
  const second = FakeSocket.made[1];
  second.emit("close"); // failed again: longer wait
  assert.ok(timers.pending[0].ms >= 2000 && timers.pending[0].ms <= 2400);
  timers.pending.shift().fn();
  FakeSocket.made[2].emit("open");
  // a server that never says hello is taken as connected after the grace time
  assert.equal(timers.pending[0].ms, 3000);
  timers.pending.shift().fn();
  assert.deepEqual(states, [
    ["connecting", false],
    ["connected", false],
    ["down", false],
    ["connecting", false],
    ["down", false],
    ["connecting", false],
    ["connected", true],
  ]);
  // back-off starts over after a successful open
  FakeSocket.made[2].emit("close");
  assert.ok(timers.pending[0].ms <= 1200);
});
