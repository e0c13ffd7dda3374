// Shared page state: the selected workspace and time range (kept for the browser session).
import { addDays, todayUtc } from "./format.js";

const RANGE_KEY = "costlynx.range";
const WS_KEY = "costlynx.workspace";

export const RANGES = [
  { kind: "today", label: "Today" },
  { kind: "7d", label: "7 days" },
  { kind: "30d", label: "30 days" },
  { kind: "custom", label: "Custom" },
];

function load(key, fallback) {
  try {
    const v = sessionStorage.getItem(key);
    return v ? JSON.parse(v) : fallback;
  } catch {
    return fallback;
  }
}

export const state = {
  workspace: load(WS_KEY, null),
  workspaces: [],
  range: load(RANGE_KEY, { kind: "7d", from: null, to: null }),
};

export function setWorkspace(slug) {
  state.workspace = slug;
  sessionStorage.setItem(WS_KEY, JSON.stringify(slug));
}

export function setRange(range) {
  state.range = range;
  sessionStorage.setItem(RANGE_KEY, JSON.stringify(range));
}

/** The inclusive UTC day span of the current range: {from: "YYYY-MM-DD", to: "YYYY-MM-DD"}. */
export function rangeDays(range = state.range) {
  const today = todayUtc();
  switch (range.kind) {
    case "today":
      return { from: today, to: today };
    case "30d":
      return { from: addDays(today, -29), to: today };
    case "custom":
      if (range.from && range.to && range.from <= range.to) return { from: range.from, to: range.to };
      return { from: addDays(today, -6), to: today };
    default:
      return { from: addDays(today, -6), to: today };
  }
}

/** Query parameters for the usage API: `to` is exclusive, so the day after the last one. */
export function rangeQuery(range = state.range) {
  const { from, to } = rangeDays(range);
  return { from, to: addDays(to, 1) };
}

export function rangeLabel(range = state.range) {
  const { from, to } = rangeDays(range);
  return from === to ? `${from} (UTC)` : `${from} → ${to} (UTC)`;
}
