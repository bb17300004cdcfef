// Dashboard entry: the bundle every page loads (app.js + app.css).
import { connectLiveFeed } from "./livefeed.js";
// Page modules: each one starts only on the page that holds its root element.
import "./audit.js";
import "./map.js";
import "./alerts.js";
import "./alert-page.js";
import "./watchlists.js";
import "./operations.js";
import "./history.js";
import "./stats.js";
import "./evaluation.js";
// Last, so that our rules come after the libraries' (Leaflet's) in app.css.
import "./style.css";

function initLiveFeed() {
  const badge = document.getElementById("live-feed");
  if (!badge) return;
  connectLiveFeed({
    onState(state) {
      badge.dataset.state = state;
      badge.textContent = state === "connected" ? "Live feed: connected" : "Live feed: down, reconnecting…";
    },
    onMessage(message) {
      if (message.type === "status") badge.title = message.failing?.length ? `Failing: ${message.failing.join(", ")}` : "";
    },
  });
}

initLiveFeed();
