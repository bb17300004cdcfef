// Statistics page: per zone and day, alerts (stacked: confirmed, dismissed, still open), the
// confirmed rate as a line, and cameras online now as a meter. Drawn as inline SVG built with DOM
// APIs (no library, nothing from a CDN); the server renders the same figures as a table below.
// Zone names come from the API and are set with textContent only.

const SVG = "http://www.w3.org/2000/svg";
export const CHART = { width: 640, height: 200, left: 36, right: 40, top: 12, bottom: 28 };
const COLOURS = { confirmed: "#15803d", dismissed: "#9ca3af", open: "#2563eb", rate: "#b45309" };

// The smallest "nice" axis top (1, 2, 5 x 10^n) at or above n; at least 1.
export function niceCeiling(n) {
  if (!(n > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(n));
  for (const step of [1, 2, 5, 10]) if (step * power >= n) return step * power;
  return 10 * power;
}

export function percentText(rate) {
  return rate === null || rate === undefined ? "—" : `${Math.round(rate * 100)}%`;
}

// "2026-11-26" -> "26 Nov" (a calendar date: no time zone shift).
export function dayLabel(isoDate) {
  const [year, month, day] = isoDate.split("-").map(Number);
  const name = new Date(Date.UTC(year, month - 1, day)).toLocaleString("en-GB", { month: "short", timeZone: "UTC" });
  return `${day} ${name}`;
}

// Geometry of one chart: a stacked bar per day (confirmed at the bottom, then dismissed, then
// open) scaled to the busiest day, and the confirmed rate's points on a 0-100% scale (days with
// nothing decided have no point). Pure, so node tests check it.
export function chartLayout(days, box = CHART) {
  const plotWidth = box.width - box.left - box.right;
  const plotHeight = box.height - box.top - box.bottom;
  const top = niceCeiling(Math.max(0, ...days.map((d) => d.alerts)));
  const slot = plotWidth / Math.max(1, days.length);
  const barWidth = Math.max(2, slot * 0.7);
  const baseline = box.top + plotHeight;
  const scale = (value) => (value / top) * plotHeight;
  const bars = days.map((day, index) => {
    const x = box.left + index * slot + (slot - barWidth) / 2;
    const open = Math.max(0, day.alerts - day.confirmed - day.dismissed);
    let y = baseline;
    const segments = [];
    for (const [kind, value] of [["confirmed", day.confirmed], ["dismissed", day.dismissed], ["open", open]]) {
      if (!value) continue;
      const height = scale(value);
      y -= height;
      segments.push({ kind, value, x, y, width: barWidth, height });
    }
    return { date: day.date, alerts: day.alerts, x, width: barWidth, centre: x + barWidth / 2, segments };
  });
  const points = days
    .map((day, index) =>
      day.confirmed_rate === null || day.confirmed_rate === undefined
        ? null
        : { x: bars[index].centre, y: baseline - day.confirmed_rate * plotHeight, rate: day.confirmed_rate },
    )
    .filter(Boolean);
  const ticks = [0, top / 2, top].map((value) => ({ value, y: baseline - scale(value) }));
  return { top, baseline, plotHeight, bars, points, ticks };
}

function svg(tag, attributes = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = String(text);
  return node;
}

function html(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function chart(days, title) {
  const layout = chartLayout(days);
  const root = svg("svg", {
    viewBox: `0 0 ${CHART.width} ${CHART.height}`,
    role: "img",
    class: "stats-chart",
    "aria-label": `${title}: alerts per day, confirmed rate`,
  });
  for (const tick of layout.ticks) {
    root.append(
      svg("line", { x1: CHART.left, x2: CHART.width - CHART.right, y1: tick.y, y2: tick.y, class: "stats-grid" }),
      svg("text", { x: CHART.left - 4, y: tick.y + 4, "text-anchor": "end", class: "stats-axis" }, tick.value),
    );
  }
  for (const rate of [0, 0.5, 1]) {
    const y = layout.baseline - rate * layout.plotHeight;
    root.append(svg("text", { x: CHART.width - CHART.right + 4, y: y + 4, class: "stats-axis stats-axis-rate" }, percentText(rate)));
  }
  const labelEvery = Math.ceil(layout.bars.length / 10);
  layout.bars.forEach((bar, index) => {
    const group = svg("g", { class: "stats-day", "data-date": bar.date, "data-alerts": bar.alerts });
    for (const s of bar.segments) {
      const rect = svg("rect", { x: s.x, y: s.y, width: s.width, height: s.height, fill: COLOURS[s.kind], class: `bar bar-${s.kind}` });
      rect.append(svg("title", {}, `${dayLabel(bar.date)}: ${s.value} ${s.kind}`));
      group.append(rect);
    }
    if (bar.alerts) {
      group.append(svg("text", { x: bar.centre, y: (bar.segments.at(-1)?.y ?? layout.baseline) - 3, "text-anchor": "middle", class: "stats-value" }, bar.alerts));
    }
    if (index % labelEvery === 0 || index === layout.bars.length - 1) {
      group.append(svg("text", { x: bar.centre, y: CHART.height - 10, "text-anchor": "middle", class: "stats-axis" }, dayLabel(bar.date)));
    }
    root.append(group);
  });
  if (layout.points.length) {
    if (layout.points.length > 1) {
      root.append(svg("polyline", { points: layout.points.map((p) => `${p.x},${p.y}`).join(" "), fill: "none", stroke: COLOURS.rate, "stroke-width": 2, class: "stats-rate-line" }));
    }
    for (const p of layout.points) {
      const dot = svg("circle", { cx: p.x, cy: p.y, r: 3.5, fill: COLOURS.rate, class: "stats-rate-point" });
      dot.append(svg("title", {}, `confirmed rate ${percentText(p.rate)}`));
      root.append(dot);
    }
  }
  return root;
}

function cameraMeter(online, total) {
  const width = 240;
  const share = total ? online / total : 0;
  const root = svg("svg", { viewBox: `0 0 ${width} 18`, role: "img", class: "stats-meter", "aria-label": `${online} of ${total} cameras online now` });
  root.append(
    svg("rect", { x: 0, y: 2, width, height: 14, rx: 3, fill: "#e5e7eb" }),
    svg("rect", { x: 0, y: 2, width: width * share, height: 14, rx: 3, fill: COLOURS.confirmed, class: "stats-meter-online" }),
  );
  return root;
}

function legend() {
  const list = html("ul", null, "stats-legend");
  for (const [kind, text] of [["confirmed", "confirmed"], ["dismissed", "dismissed"], ["open", "still open"], ["rate", "confirmed rate (right axis)"]]) {
    const item = html("li");
    const swatch = html("span", null, `stats-swatch stats-swatch-${kind}`);
    item.append(swatch, document.createTextNode(text));
    list.append(item);
  }
  return list;
}

export function panelHeadline(name, totals, online, total) {
  return `${name}: ${totals.alerts} alert${totals.alerts === 1 ? "" : "s"}, ${totals.confirmed} confirmed, ` +
    `${totals.dismissed} dismissed, confirmed rate ${percentText(totals.confirmed_rate)}; cameras online ${online} of ${total}`;
}

function panel(name, code, data) {
  const figure = html("figure", null, "stats-panel");
  figure.dataset.zone = code;
  figure.dataset.alerts = String(data.totals.alerts);
  const caption = html("figcaption", panelHeadline(name, data.totals, data.cameras_online, data.cameras_total));
  const meterLabel = html("span", `${data.cameras_online} of ${data.cameras_total} cameras online now`, "stats-meter-label");
  figure.append(caption, chart(data.days, name), cameraMeter(data.cameras_online, data.cameras_total), meterLabel);
  return figure;
}

async function initStatsPage() {
  const page = document.getElementById("stats-page");
  if (!page) return;
  const state = page.querySelector("#stats-state");
  const charts = page.querySelector("#stats-charts");
  try {
    const response = await fetch(`${page.dataset.api}?days=${encodeURIComponent(page.dataset.days)}`, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const stats = await response.json();
    const panels = [legend(), panel("All your zones", "city", stats.city)];
    for (const zone of stats.zones) panels.push(panel(zone.name, zone.code, zone));
    charts.replaceChildren(...panels);
    state.dataset.state = "loaded";
    state.textContent = `Last ${stats.days.length} days, ${stats.days[0]} to ${stats.days.at(-1)}.`;
  } catch (error) {
    state.dataset.state = "error";
    state.textContent = `Could not draw the charts (${error.message}); the table below has the figures.`;
    page.querySelector("[data-testid=stats-table-details]").open = true;
  }
}

if (typeof document !== "undefined") initStatsPage();
