// Match history page: the table is rendered by the server; this keeps its "how long ago" texts
// fresh (the export form needs its purpose by itself: required, minlength).
import { relativeTime } from "./audit.js";

const REFRESH_MS = 30000;

function refresh(root) {
  const now = new Date();
  for (const node of root.querySelectorAll("[data-relative]")) {
    const date = new Date(node.dataset.relative);
    if (!Number.isNaN(date.getTime())) node.textContent = relativeTime(date, now);
  }
}

function initHistoryPage() {
  const root = document.getElementById("match-history");
  if (!root) return;
  refresh(root);
  window.setInterval(() => refresh(root), REFRESH_MS);
}

if (typeof document !== "undefined") initHistoryPage();
