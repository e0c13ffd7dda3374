// Inline SVG charts drawn by hand: a column chart over time and a horizontal bar chart.
import { s } from "./dom.js";
import { formatDayShort, formatHour } from "./format.js";

/** Round numbers for an axis: {max, step} with 1-2-5 steps, at least `ticks` intervals of room. */
export function niceScale(max, ticks = 4) {
  if (!(max > 0)) return { max: 1, step: 0.25 };
  const raw = max / ticks;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  const step = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 2.5 ? 2.5 : norm <= 5 ? 5 : 10) * mag;
  return { max: Math.ceil(max / step - 1e-9) * step, step };
}

/**
 * Columns over time.
 * points: [{start: Date, value: number, title: string}] (already zero-filled, in order)
 * bucket: "hour" | "day"; formatY: number → axis label
 */
export function columnChart({ points, bucket, formatY, label }) {
  const W = 1000, H = 220, L = 64, R = 12, T = 14, B = 30;
  const pw = W - L - R, ph = H - T - B;
  const maxVal = Math.max(0, ...points.map((p) => p.value));
  const { max, step } = niceScale(maxVal, 4);
  const svg = s("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": label, preserveAspectRatio: "xMidYMid meet" });
  svg.append(s("title", {}, label));

  // grid + y labels
  for (let v = 0; v <= max + step / 2; v += step) {
    const y = T + ph - (v / max) * ph;
    svg.append(s("line", { x1: L, x2: W - R, y1: y, y2: y, class: v === 0 ? "axis" : "grid" }));
    svg.append(s("text", { x: L - 8, y: y + 4, class: "tick", "text-anchor": "end" }, formatY(v)));
  }

  const n = Math.max(1, points.length);
  const slot = pw / n;
  const bw = Math.max(1, Math.min(48, slot * 0.72));
  // at most ~10 x labels
  const every = Math.max(1, Math.ceil(n / 10));
  points.forEach((p, i) => {
    const x = L + i * slot;
    const hgt = max > 0 ? (p.value / max) * ph : 0;
    const g = s("g", { class: "col" },
      s("title", {}, p.title),
      s("rect", { x, y: T, width: slot, height: ph, class: "hit" }),
      s("rect", { x: x + (slot - bw) / 2, y: T + ph - hgt, width: bw, height: Math.max(hgt, p.value > 0 ? 1.5 : 0), rx: bw > 6 ? 2 : 0, class: "bar" }));
    if (p.anomaly) { // a spend anomaly in this bucket: a dashed line and a dot above the column
      g.append(s("line", { x1: x + slot / 2, x2: x + slot / 2, y1: T, y2: T + ph - hgt, class: "anomaly-line" }),
        s("circle", { cx: x + slot / 2, cy: T + 4, r: 4, class: "anomaly-mark", "data-anomaly": "1" }));
    }
    svg.append(g);
    if (i % every === 0) {
      const d = p.start;
      let text;
      if (bucket === "hour") text = d.getUTCHours() === 0 || i === 0 ? formatDayShort(d) : formatHour(d);
      else text = formatDayShort(d);
      svg.append(s("text", { x: x + slot / 2, y: H - 10, class: "tick", "text-anchor": "middle" }, text));
    }
  });
  return svg;
}

/**
 * Horizontal bars, one per row: rows [{label, value, display, title}]
 */
export function barChart({ rows, label }) {
  const W = 1000, rowH = 30, L = 300, R = 110, T = 6;
  const H = T * 2 + rows.length * rowH;
  const maxVal = Math.max(0, ...rows.map((r) => r.value));
  const svg = s("svg", { class: "chart bars", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": label });
  svg.append(s("title", {}, label));
  const pw = W - L - R;
  rows.forEach((r, i) => {
    const y = T + i * rowH;
    const w = maxVal > 0 ? (r.value / maxVal) * pw : 0;
    const text = r.label.length > 40 ? r.label.slice(0, 39) + "…" : r.label;
    svg.append(s("g", { class: "brow" + (r.muted ? " muted" : "") },
      s("title", {}, r.title || `${r.label}: ${r.display}`),
      s("rect", { x: 0, y, width: W, height: rowH, class: "hit" }),
      s("text", { x: L - 12, y: y + rowH / 2 + 4, class: "blabel", "text-anchor": "end" }, text),
      s("rect", { x: L, y: y + 6, width: pw, height: rowH - 12, rx: 3, class: "track" }),
      s("rect", { x: L, y: y + 6, width: Math.max(w, r.value > 0 ? 2 : 0), height: rowH - 12, rx: 3, class: "bar" }),
      s("text", { x: W - R + 10, y: y + rowH / 2 + 4, class: "bvalue" }, r.display)));
  });
  return svg;
}
