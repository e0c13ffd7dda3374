// Number, money and time formatting. Money is handled as exact nano-dollars (BigInt) parsed from
// the API's decimal strings, so what the page shows is rounded from the stored value, never from
// a binary float.

const NANOS = 1000000000n;

/** "0.0003195" → 319500n (nano-dollars). Returns null for null/undefined/"". */
export function parseNanos(value) {
  if (value === null || value === undefined || value === "") return null;
  if (typeof value === "number") return BigInt(Math.round(value * 1e9));
  const m = /^(-?)(\d*)(?:\.(\d*))?$/.exec(String(value).trim());
  if (!m) return null;
  const neg = m[1] === "-";
  const int = BigInt(m[2] || "0");
  let frac = (m[3] || "").slice(0, 10).padEnd(10, "0");
  // round half up at the 9th decimal (the API never sends more than 9)
  let f = BigInt(frac.slice(0, 9));
  if (Number(frac[9]) >= 5) f += 1n;
  const n = int * NANOS + f;
  return neg ? -n : n;
}

function groupThousands(digits) {
  return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** Round a non-negative nano amount to `decimals` (≤ 9) places, half up; returns "int.frac". */
function roundNanos(abs, decimals) {
  const unit = 10n ** BigInt(9 - decimals);
  const q = (abs + unit / 2n) / unit; // integer count of 10^-decimals
  const scale = 10n ** BigInt(decimals);
  const int = q / scale;
  const frac = decimals > 0 ? (q % scale).toString().padStart(decimals, "0") : "";
  return { int: int.toString(), frac };
}

/**
 * Money for people: "$1,234.56" for a dollar and up; below a dollar enough decimals for four
 * significant digits ("$0.5063", "$0.0123", "$0.0003195"), trailing zeros trimmed to two
 * decimals ("$0.50"). null → "—" (no cost figure).
 */
export function formatUsd(value) {
  const n = typeof value === "bigint" ? value : parseNanos(value);
  if (n === null) return "—";
  const neg = n < 0n;
  const abs = neg ? -n : n;
  let decimals;
  if (abs === 0n) decimals = 2;
  else if (abs >= NANOS) decimals = 2;
  else {
    // position of the first non-zero decimal digit (1 = tenths)
    const digits = abs.toString().padStart(9, "0");
    const first = digits.search(/[1-9]/) + 1;
    decimals = Math.min(9, Math.max(2, first + 3));
  }
  let { int, frac } = roundNanos(abs, decimals);
  if (decimals > 2) frac = frac.replace(/0+$/, "").padEnd(2, "0");
  return (neg ? "-" : "") + "$" + groupThousands(int) + (frac ? "." + frac : "");
}

/** The exact stored amount, e.g. "$0.0003195" (for tooltips). */
export function formatUsdExact(value) {
  const n = typeof value === "bigint" ? value : parseNanos(value);
  if (n === null) return "no cost figure";
  const neg = n < 0n;
  const abs = neg ? -n : n;
  const int = (abs / NANOS).toString();
  let frac = (abs % NANOS).toString().padStart(9, "0").replace(/0+$/, "");
  if (frac.length < 2) frac = frac.padEnd(2, "0");
  return (neg ? "-" : "") + "$" + groupThousands(int) + "." + frac;
}

/** Short money for chart axes: "$0", "$0.002", "$1.5", "$12k". */
export function formatUsdAxis(x) {
  if (x === 0) return "$0";
  if (x >= 1000) return "$" + formatCompact(x);
  if (x >= 1) return "$" + Number(x.toPrecision(3)).toString();
  return "$" + Number(x.toPrecision(2)).toString();
}

const intFmt = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const compactFmt = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 1 });
const pctFmt = new Intl.NumberFormat("en-US", { style: "percent", maximumFractionDigits: 1 });

export function formatInt(n) {
  return intFmt.format(Number(n || 0));
}
export function formatCompact(n) {
  return compactFmt.format(Number(n || 0));
}
export function formatPct(x) {
  return pctFmt.format(x);
}
/** Full number under a million, compact above ("1.2M"). */
export function formatCount(n) {
  n = Number(n || 0);
  return n >= 1e6 ? formatCompact(n) : formatInt(n);
}

// ---- time (everything is UTC: the API's buckets and ranges are UTC) ----

const pad = (n) => String(n).padStart(2, "0");

/** "2026-11-27 09:14 UTC" */
export function formatTime(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return `${dayKey(d)} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())} UTC`;
}

/** "Nov 27 09:14" (UTC) */
export function formatTimeShort(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso || "—");
  return `${formatDayShort(d)} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
}

/** "2026-11-27" */
export function dayKey(d) {
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
/** "Nov 27" */
export function formatDayShort(d) {
  return `${MONTHS[d.getUTCMonth()]} ${d.getUTCDate()}`;
}
/** "09:00" */
export function formatHour(d) {
  return `${pad(d.getUTCHours())}:00`;
}

/** "3 min ago" style relative time, for recent rows. */
export function formatAgo(iso, now = Date.now()) {
  const t = new Date(iso).getTime();
  if (Number.isNaN(t)) return "";
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 60) return "just now";
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min ago`;
  const hr = Math.round(m / 60);
  if (hr < 48) return `${hr} h ago`;
  return `${Math.round(hr / 24)} days ago`;
}

export function addDays(ymd, n) {
  const d = new Date(ymd + "T00:00:00Z");
  d.setUTCDate(d.getUTCDate() + n);
  return dayKey(d);
}

export function todayUtc() {
  return dayKey(new Date());
}
