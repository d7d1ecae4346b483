// Inline SVG charts, no library: a line chart (equity) and bar charts (PnL per day, hit rates).
"use strict";
const SVG_NS = "http://www.w3.org/2000/svg";

function svgEl(name, attrs, text) {
  const el = document.createElementNS(SVG_NS, name);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

// one SVG unit = one CSS pixel at the container's width, so text keeps its size on any screen
function chartWidth(container) {
  return Math.max(320, Math.round(container.clientWidth || 600));
}

function svgFrame(container, width, height) {
  container.replaceChildren();
  const svg = svgEl("svg", { viewBox: `0 0 ${width} ${height}`, role: "img" });
  container.appendChild(svg);
  return svg;
}

function emptyChart(container, message) {
  const W = chartWidth(container);
  const svg = svgFrame(container, W, 60);
  svg.appendChild(svgEl("text", { x: W / 2, y: 35, "text-anchor": "middle", class: "empty" }, message));
}

// points: [{x: number, y: number, label: string}] (y in coins, for drawing only; labels carry the exact text)
function lineChart(container, points, opts) {
  if (!points.length) return emptyChart(container, opts.empty || "no data yet");
  const W = chartWidth(container), H = 220, L = 90, R = 12, T = 12, B = 24;
  const svg = svgFrame(container, W, H);
  const xs = points.map(p => p.x), ys = points.map(p => p.y).concat([0]);
  const x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
  const sx = x => L + (x1 === x0 ? (W - L - R) / 2 : (x - x0) / (x1 - x0) * (W - L - R));
  const sy = y => T + (y1 === y0 ? (H - T - B) / 2 : (y1 - y) / (y1 - y0) * (H - T - B));
  svg.appendChild(svgEl("line", { x1: L, y1: T, x2: L, y2: H - B, class: "axis" }));
  svg.appendChild(svgEl("line", { x1: L, y1: sy(0), x2: W - R, y2: sy(0), class: "zero" }));
  svg.appendChild(svgEl("text", { x: L - 6, y: sy(y1) + 4, "text-anchor": "end" }, fmtAxis(y1)));
  svg.appendChild(svgEl("text", { x: L - 6, y: sy(y0) + 4, "text-anchor": "end" }, fmtAxis(y0)));
  svg.appendChild(svgEl("text", { x: L, y: H - 6 }, opts.xLabel ? opts.xLabel(x0) : String(x0)));
  svg.appendChild(svgEl("text", { x: W - R, y: H - 6, "text-anchor": "end" }, opts.xLabel ? opts.xLabel(x1) : String(x1)));
  const d = points.map((p, i) => `${i ? "L" : "M"}${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(" ");
  svg.appendChild(svgEl("path", { d, class: "line" }));
  for (const p of points) {
    const dot = svgEl("circle", { cx: sx(p.x).toFixed(1), cy: sy(p.y).toFixed(1), r: 2.5, fill: p.y >= 0 ? "#2ea043" : "#d1453b" });
    dot.appendChild(svgEl("title", {}, p.label));
    svg.appendChild(dot);
  }
}

// bars: [{label, value (number), text (exact label), cls}]; opts.max fixes the scale (hit rates: 1)
function barChart(container, bars, opts) {
  if (!bars.length) return emptyChart(container, opts.empty || "no data yet");
  const W = chartWidth(container), L = Math.min(170, W * 0.3), R = Math.min(210, W * 0.35);
  const rowH = 24, H = bars.length * rowH + 10;
  const svg = svgFrame(container, W, H);
  const max = opts.max || Math.max(...bars.map(b => Math.abs(b.value)), 1e-18);
  const hasNeg = !opts.max && bars.some(b => b.value < 0);
  const zero = hasNeg ? L + (W - L - R) / 2 : L, span = hasNeg ? (W - L - R) / 2 : (W - L - R);
  bars.forEach((b, i) => {
    const y = 5 + i * rowH, len = Math.abs(b.value) / max * span;
    svg.appendChild(svgEl("text", { x: L - 6, y: y + 15, "text-anchor": "end" }, b.label));
    const rect = svgEl("rect", { x: b.value < 0 ? zero - len : zero, y: y + 3, width: Math.max(len, 1), height: rowH - 8,
                                 fill: b.color || (b.value < 0 ? "#d1453b" : "#2ea043") });
    rect.appendChild(svgEl("title", {}, `${b.label}: ${b.text}`));
    svg.appendChild(rect);
    svg.appendChild(svgEl("text", { x: W - R + 6, y: y + 15 }, b.text));
  });
  svg.appendChild(svgEl("line", { x1: zero, y1: 0, x2: zero, y2: H, class: "zero" }));
}

function fmtAxis(v) {
  const a = Math.abs(v);
  return a === 0 ? "0" : a >= 1000 ? v.toFixed(0) : a >= 1 ? v.toFixed(2) : v.toPrecision(3);
}
