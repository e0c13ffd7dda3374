// Overview: totals, spend over time and the newest events with their attribution.
import { h, replace, icon } from "./dom.js";
import * as api from "./api.js";
import { columnChart } from "./charts.js";
import { formatUsd, formatUsdExact, formatUsdAxis, formatInt, formatCount, formatTimeShort, formatAgo, formatDayShort, formatHour } from "./format.js";
import { state, setRange, rangeQuery } from "./state.js";
import { pageHeader, card, statCard, rangeControl, rangeSubtitle, emptyState, codeBlock, attr, flagBadge, badge, errorState } from "./ui.js";
import { openEventPanel } from "./event.js";

let bucketChoice = ""; // "" (automatic), "hour" or "day"
let metric = "cost"; // cost | events | tokens

const METRICS = {
  cost: { label: "Spend", value: (b) => Number(b.costUsd || 0), axis: formatUsdAxis },
  events: { label: "Events", value: (b) => b.events, axis: (v) => formatCount(v) },
  tokens: { label: "Tokens", value: (b) => b.inputTokens + b.outputTokens, axis: (v) => formatCount(v) },
};

export function curlExample() {
  const base = location.origin;
  return `curl -X POST "${base}/api/v1/usage/ingest" \\
  -H "Content-Type: application/json" \\
  -H "X-API-Key: $COSTLYNX_INGESTION_KEY" \\
  -d '{"provider":"openai","model":"gpt-4o-mini","inputTokens":850,"outputTokens":320,
       "requestId":"test-integration-001","project":"customer-support",
       "environment":"staging","feature":"ticket-classifier"}'
# {"ok":true,"inserted":1,"skipped":0}`;
}

export async function render(ctx) {
  const { main, workspace } = ctx;
  const rq = rangeQuery();
  const [ov, warn, anomalies] = await Promise.all([
    api.get(api.wsPath(workspace, "/usage/overview"), { ...rq, bucket: bucketChoice || undefined }),
    api.get(api.wsPath(workspace, "/usage/warnings"), rq).catch(() => null),
    api.get(api.wsPath(workspace, "/anomalies"), rq).catch(() => null),
  ]);
  // the workspace's own flagged hours mark the chart (issue 12); the others are on the Alerts page
  ov.anomalies = ((anomalies && anomalies.anomalies) || []).filter((a) => a.scope.type === "workspace");
  if (!ctx.isCurrent()) return;

  const header = pageHeader("Overview", rangeSubtitle("Usage"), rangeControl(() => ctx.rerender()));
  const t = ov.totals;

  if (!t.events) {
    replace(main, header, ov.recent && ov.recent.length ? noEventsInRange(ctx) : noEventsYet(), ov.recent && ov.recent.length ? recentCard(ov.recent, ctx) : null);
    return;
  }

  const unpriced = warn ? warn.unpriced.events : 0;
  const attention = warn ? warn.unpriced.events + warn.unknownProjects.events + warn.unknownEnvironments.events + warn.unattributed.events : 0;
  ctx.setWarningCount(attention);
  const cached = t.cachedTokens ? `${formatCount(t.cachedTokens)} cached` : "none cached";
  const stats = h("div", { class: "stats" },
    statCard("Spend", formatUsd(t.costUsd), unpriced ? `excludes ${formatInt(unpriced)} unpriced event${unpriced === 1 ? "" : "s"}` : "all events priced", { id: "spend", title: formatUsdExact(t.costUsd) }),
    statCard("Events", formatInt(t.events), `${formatUsd(avg(t.costUsd, t.events))} per event`, { id: "events" }),
    statCard("Input tokens", formatCount(t.inputTokens), cached, { id: "input", title: formatInt(t.inputTokens) }),
    statCard("Output tokens", formatCount(t.outputTokens), t.cacheWriteTokens ? `${formatCount(t.cacheWriteTokens)} cache writes` : null, { id: "output", title: formatInt(t.outputTokens) }),
    statCard("Need attention", formatInt(attention), attention ? "unpriced or unattributed events →" : "everything priced and attributed", { id: "attention", kind: attention ? "warn" : "ok", href: "#/warnings" }));

  const chartHost = h("div", { class: "chart-host" });
  const drawChart = () => replace(chartHost, seriesChart(ov));
  const metricSeg = h("div", { class: "segmented segmented-small", role: "group", "aria-label": "Chart metric" },
    Object.entries(METRICS).map(([k, m]) => {
      const b = h("button", { type: "button", class: "seg", "aria-pressed": String(metric === k) }, m.label);
      b.addEventListener("click", () => {
        metric = k;
        for (const x of metricSeg.children) x.setAttribute("aria-pressed", String(x === b));
        drawChart();
      });
      return b;
    }));
  const bucketSel = h("select", { "aria-label": "Chart bucket" },
    h("option", { value: "" }, "Auto"), h("option", { value: "hour" }, "Hourly"), h("option", { value: "day" }, "Daily"));
  bucketSel.value = bucketChoice;
  bucketSel.addEventListener("change", () => {
    bucketChoice = bucketSel.value;
    ctx.rerender();
  });
  drawChart();

  replace(main, header, stats,
    card(`Over time · per ${ov.bucket}`, { actions: [metricSeg, bucketSel], sub: "UTC buckets. Hover a column for details." }, chartHost),
    recentCard(ov.recent || [], ctx));
}

function avg(costUsd, n) {
  if (!n) return "0";
  return (Number(costUsd) / n).toFixed(9);
}

function seriesChart(ov) {
  const step = ov.bucket === "hour" ? 3600e3 : 86400e3;
  const by = new Map(ov.series.map((b) => [new Date(b.start).getTime(), b]));
  const from = new Date(ov.from).getTime();
  const to = new Date(ov.to).getTime();
  const m = METRICS[metric];
  const points = [];
  const zero = { events: 0, inputTokens: 0, outputTokens: 0, costUsd: "0" };
  for (let t = from; t < to && points.length < 2000; t += step) {
    const b = by.get(t) || zero;
    const d = new Date(t);
    const when = ov.bucket === "hour" ? `${formatDayShort(d)} ${formatHour(d)} UTC` : `${formatDayShort(d)} (UTC)`;
    const flagged = (ov.anomalies || []).filter((a) => { const h = new Date(a.hour).getTime(); return h >= t && h < t + step; });
    const note = flagged.length ? `\nAnomaly: ${flagged.map((a) => a.reason).join("; ")}` : "";
    points.push({ start: d, value: m.value(b), anomaly: flagged.length > 0, title: `${when}\n${formatUsd(b.costUsd)} · ${formatInt(b.events)} events · ${formatInt(b.inputTokens + b.outputTokens)} tokens${note}` });
  }
  return columnChart({ points, bucket: ov.bucket, formatY: m.axis, label: `${m.label} per ${ov.bucket}` });
}

function noEventsYet() {
  return card(null, { class: "onboarding" },
    emptyState("No events yet — send one with curl",
      h("p", {}, "Create an ingestion key in ", h("a", { href: "#/settings" }, "Settings → Configure"),
        " (and a project such as ", h("code", {}, "customer-support"), "), then send a test event from your terminal:"),
      codeBlock(curlExample(), "curl example"),
      h("p", { class: "muted" }, "Re-sending the same requestId answers ", h("code", {}, '{"ok":true,"inserted":0,"skipped":1}'),
        " — retries are never counted twice. New events show up here with their project, environment and feature.")));
}

function noEventsInRange(ctx) {
  return card(null, {}, emptyState("No events in this time range",
    h("p", {}, "Events exist in this workspace, but none took place in the selected range (by event time)."),
    h("button", { class: "btn", type: "button", onClick: () => { setRange({ kind: "30d" }); ctx.rerender(); } }, "Show the last 30 days")));
}

/** The events as table rows; with onOpen, a row opens (click or Enter) the event's detail panel. */
export function eventsTable(events, onOpen) {
  const rows = events.map((e) => h("tr", onOpen ? {
    title: `requestId ${e.requestId} — open its details, history and corrections`, class: "row-open" + (e.voided ? " row-voided" : ""),
    tabindex: "0", dataset: { requestId: e.requestId },
    onClick: () => onOpen(e), onKeydown: (ev) => { if (ev.key === "Enter") onOpen(e); },
  } : { title: `requestId ${e.requestId}` },
    h("td", { class: "nowrap", title: `event time ${e.timestamp || e.receivedAt}\nreceived ${e.receivedAt}` },
      h("span", {}, formatTimeShort(e.timestamp || e.receivedAt)), h("span", { class: "cell-sub" }, formatAgo(e.timestamp || e.receivedAt))),
    h("td", { class: "nowrap" }, e.userId ? e.userId : h("span", { class: "unattributed" }, "(none)")),
    h("td", { class: "mono" }, e.model, h("span", { class: "cell-sub", "aria-label": "provider " + e.provider }, e.provider)),
    h("td", {}, attr(e.project, e.projectAsSent)),
    h("td", {}, attr(e.environment, e.project ? e.environmentAsSent : null)),
    h("td", { class: "nowrap" }, e.feature ? e.feature : h("span", { class: "unattributed" }, "(none)")),
    h("td", { class: "num", title: `${formatInt(e.inputTokens)} input (${formatInt(e.cachedTokens)} cached) · ${formatInt(e.outputTokens)} output` }, `${formatCount(e.inputTokens)} / ${formatCount(e.outputTokens)}`),
    h("td", { class: "num", title: e.costUsd === null ? "no cost figure" : `${formatUsdExact(e.costUsd)} (${e.costSource}${e.priceId ? ": " + e.priceId : ""})` },
      formatUsd(e.costUsd), e.costSource === "caller" ? h("span", { class: "cell-sub" }, "caller") : null),
    h("td", { class: "flags" }, h("span", { class: "badges" }, e.voided ? badge("voided", "warn", e.voidReason || "voided") : null,
      e.flags.length ? e.flags.map(flagBadge) : e.voided ? null : badge("ok", "ok")))));
  return h("div", { class: "table-wrap" }, h("table", { class: "table", "aria-label": "Latest events" },
    h("thead", {}, h("tr", {},
      h("th", { scope: "col", title: "the event's timestamp (else its arrival); hover a time for when it was received" }, "Time (UTC)"),
      h("th", { scope: "col" }, "User"), h("th", { scope: "col" }, "Model / provider"),
      h("th", { scope: "col" }, "Project"), h("th", { scope: "col" }, "Environment"), h("th", { scope: "col" }, "Feature"),
      h("th", { scope: "col", class: "num" }, "Tokens in/out"), h("th", { scope: "col", class: "num" }, "Cost"), h("th", { scope: "col" }, "Flags"))),
    h("tbody", {}, rows)));
}

function recentCard(recent, ctx) {
  const open = (e) => openEventPanel(ctx, e.requestId);
  const host = h("div", {}, eventsTable(recent, open));
  let cursor = null;
  let all = recent.slice();
  const more = h("button", { class: "btn", type: "button" }, "Show more events");
  const status = h("span", { class: "muted", role: "status" });
  more.addEventListener("click", async () => {
    more.disabled = true;
    status.textContent = "Loading…";
    try {
      // page through the read-back API (newest first); the first page repeats the overview's 10
      const res = await api.get(api.wsPath(ctx.workspace, "/usage/events"), { limit: cursor ? 50 : all.length + 50, cursor: cursor || undefined });
      const seen = new Set(all.map((e) => e.requestId));
      for (const e of res.events) if (!seen.has(e.requestId)) all.push(e);
      cursor = res.nextCursor;
      replace(host, eventsTable(all, open));
      status.textContent = cursor ? `${formatInt(all.length)} events shown` : `All ${formatInt(all.length)} events shown`;
      more.hidden = !cursor;
    } catch (err) {
      status.textContent = "";
      host.append(errorState(err));
    } finally {
      more.disabled = false;
    }
  });
  return card("Latest events", { sub: "The 10 newest events of the range — attribution as stored (slugs that did not match are shown as sent)." },
    recent.length ? host : emptyState("No events yet"),
    recent.length >= 10 ? h("div", { class: "card-foot" }, more, status) : null);
}
