// The dashboard's live-feed connection (ws/status/): shows whether the feed is up, reconnects by
// itself with back-off, and hands server messages to listeners. Alerts arrive on this same kind
// of channel once the live pipeline lands.
const MAX_DELAY_MS = 15000;

export function connectLiveFeed({ onState, onMessage }) {
  let delay = 1000;
  let socket = null;
  let pingTimer = null;

  function open() {
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${window.location.host}/ws/status/`);
    socket.addEventListener("open", () => {
      delay = 1000;
      onState("connected");
      pingTimer = window.setInterval(() => socket.send(JSON.stringify({ type: "ping" })), 20000);
    });
    socket.addEventListener("message", (event) => {
      try {
        onMessage(JSON.parse(event.data));
      } catch {
        // malformed frames are ignored
      }
    });
    socket.addEventListener("close", () => {
      window.clearInterval(pingTimer);
      onState("disconnected");
      window.setTimeout(open, delay);
      delay = Math.min(delay * 2, MAX_DELAY_MS);
    });
  }

  open();
}
