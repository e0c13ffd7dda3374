// Costs: spend grouped by any of project, environment, feature, provider, model, day, hour —
// or the top end users, ingestion keys or values of a declared tag (one of them, alone).
import { h, replace, icon, uid } from "./dom.js";
import * as api from "./api.js";
import { barChart, columnChart } from "./charts.js";
import { formatUsd, formatUsdExact, formatUsdAxis, formatInt, formatCount, formatPct, parseNanos, formatDayShort, formatHour, dayKey } from "./format.js";
import { rangeQuery } from "./state.js";
import { pageHeader, card, statCard, rangeControl, rangeSubtitle, emptyState } from "./ui.js";

export const DIMENSIONS = [
  { key: "project", label: "Project" },
  { key: "environment", label: "Environment" },
  { key: "feature", label: "Feature" },
  { key: "provider", label: "Provider" },
  { key: "model", label: "Model" },
  { key: "day", label: "Day" },
  { key: "hour", label: "Hour" },
];
// answered from per-value counters (groupBy=user|key|tag:KEY): alone, without filters
const TOP = [
  { key: "user", label: "End user" },
  { key: "key", label: "Ingestion key" },
];
const isTop = (k) => k === "user" || k === "key" || /^tag:[a-z0-9_.-]{1,64}$/.test(k);
const dimLabel = (k) => (DIMENSIONS.find((d) => d.key === k) || TOP.find((d) => d.key === k) || { label: "Tag " + k.slice(4) }).label;
const FILTERS = ["project", "environment", "feature", "provider", "model"];
const DEFAULT_GROUP = ["project", "feature"];
const UNATTRIBUTED = "(unattributed)";

/** Settings of the page, from the hash: #/costs?groupBy=project,feature&project=support */
function readParams(params) {
  const asked = (params.get("groupBy") || DEFAULT_GROUP.join(",")).split(",");
  const top = asked.find(isTop);
  const groupBy = top ? [top] : asked.filter((k) => DIMENSIONS.some((d) => d.key === k));
  const filters = {};
  // an empty value is a real filter: it selects the unattributed (null) rows
  for (const f of FILTERS) if (params.has(f)) filters[f] = params.get(f);
  return { groupBy: groupBy.length ? groupBy : DEFAULT_GROUP.slice(), filters };
}

function toHash({ groupBy, filters }) {
  const q = new URLSearchParams();
  q.set("groupBy", groupBy.join(","));
  for (const f of FILTERS) if (filters[f] !== undefined) q.set(f, filters[f]);
  return "#/costs?" + q.toString();
}

function cellText(key, v) {
  if (v === null || v === undefined) return UNATTRIBUTED;
  if (key === "day") return new Date(v).toISOString().slice(0, 10);
  if (key === "hour") {
    const d = new Date(v);
    return `${dayKey(d)} ${formatHour(d)}`;
  }
  return String(v);
}

async function loadProjects(workspace) {
  const res = await api.get(api.wsPath(workspace, "/projects"));
  const projects = res.projects || [];
  const envs = new Set(["prod", "staging", "dev"]);
  const details = await Promise.all(projects.slice(0, 50).map((p) =>
    api.get(api.wsPath(workspace, `/projects/${encodeURIComponent(p.slug)}/environments`)).catch(() => ({ environments: [] }))));
  for (const d of details) for (const e of d.environments || []) envs.add(e.slug);
  return { projects, environments: [...envs].sort() };
}

export async function render(ctx) {
  const { main, workspace } = ctx;
  const p = readParams(ctx.route.params);
  const query = { ...rangeQuery(), groupBy: p.groupBy.join(",") };
  const top = isTop(p.groupBy[0]);
  if (top) query.limit = 50;
  else for (const [k, v] of Object.entries(p.filters)) query[k] = v;
  const [res, meta, wsInfo] = await Promise.all([
    api.get(api.wsPath(workspace, "/usage/costs"), query),
    loadProjects(workspace).catch(() => ({ projects: [], environments: [] })),
    api.get(api.wsPath(workspace)).catch(() => ({})),
  ]);
  meta.tagDimensions = wsInfo.tagDimensions || [];
  if (!ctx.isCurrent()) return;

  const apply = (next) => ctx.navigate(toHash(next), { replaceOnly: true });
  const exportBtn = h("button", { class: "btn", type: "button", disabled: !res.rows.length }, icon("download"), "Export CSV");
  exportBtn.addEventListener("click", () => downloadCsv(res, workspace));
  const header = pageHeader("Costs", rangeSubtitle("Spend"), rangeControl(() => ctx.rerender()), exportBtn);

  const total = res.total;
  const totalNanos = parseNanos(total.costUsd) || 0n;
  const groupLabel = p.groupBy.map((k) => dimLabel(k).toLowerCase()).join(" · ");
  const filterCount = top ? 0 : Object.keys(p.filters).length;

  const stats = h("div", { class: "stats stats-4" },
    statCard("Total spend", formatUsd(total.costUsd), filterCount ? `${filterCount} filter${filterCount > 1 ? "s" : ""} applied` : "all events in range", { id: "total-cost", title: formatUsdExact(total.costUsd) }),
    statCard("Events", formatInt(total.events), null, { id: "total-events" }),
    statCard("Tokens", formatCount(total.inputTokens + total.outputTokens), `${formatCount(total.inputTokens)} in · ${formatCount(total.outputTokens)} out`, { id: "total-tokens" }),
    statCard("Groups", formatInt(top ? res.groups : res.rows.length), top && res.groups > res.rows.length ? `by ${groupLabel} · top ${res.rows.length} shown` : `by ${groupLabel}`, { id: "groups" }));

  let body;
  if (!res.rows.length) {
    body = [card(null, {}, emptyState(filterCount ? "No spend matches these filters" : "No spend in this time range",
      h("p", {}, filterCount ? "Try removing a filter or widening the time range." : "Events sent in this range will be summed up here by the groups you pick."),
      filterCount ? h("button", { class: "btn", type: "button", onClick: () => apply({ groupBy: p.groupBy, filters: {} }) }, "Clear filters") : null))];
  } else {
    body = [
      card(`Spend by ${groupLabel}`, { sub: res.rows.length > 12 && !isTimeOnly(p.groupBy) ? `Top 12 of ${top ? res.groups : res.rows.length} groups` : null }, chart(res, p.groupBy, totalNanos)),
      card("Breakdown", { sub: top
        ? "By event time. Events without this dimension are not counted (no userId; a tag not declared when the event was written). Total: every value, not only those shown."
        : "Unpriced events count as $0 — see Warnings. “(unattributed)” = no or unknown slug." }, table(res, p.groupBy, totalNanos)),
    ];
  }
  replace(main, header, controls(p, meta, apply), stats, ...body, voidedCard(ctx, p, top, query));
}

/*
 * Voided spend (issue 11), apart and only when asked: the events voided in the range, which none
 * of the totals above count, by the same groups (not for end users, keys or tags, nor by hour).
 */
function voidedCard(ctx, p, top, query) {
  const host = h("div", { class: "muted", role: "status" });
  const btn = h("button", { class: "btn btn-small", type: "button" }, "Show voided spend");
  const supported = !top && !p.groupBy.includes("hour");
  btn.addEventListener("click", async () => {
    btn.disabled = true;
    host.textContent = "Loading…";
    try {
      const res = await api.get(api.wsPath(ctx.workspace, "/usage/costs"), { ...query, voided: true });
      replace(host,
        h("p", { "data-voided": "total" }, `Voided: ${formatUsd(res.total.costUsd)} in ${formatInt(res.total.events)} event${res.total.events === 1 ? "" : "s"} — not counted above.`),
        res.rows.length ? table(res, p.groupBy, parseNanos(res.total.costUsd) || 0n) : null);
    } catch (err) {
      host.textContent = err.message;
      btn.disabled = false;
    }
  });
  return card("Voided spend", { sub: supported ? "Events taken out of every total by a void (kept with their history)." : "Not kept by end user, key, tag or hour: group by project, environment, feature, provider, model or day." },
    supported ? [btn, host] : null);
}

function isTimeOnly(groupBy) {
  return groupBy.length === 1 && (groupBy[0] === "day" || groupBy[0] === "hour");
}

function controls(p, meta, apply) {
  const groupSet = h("fieldset", { class: "chips" }, h("legend", {}, "Group by"));
  const top = isTop(p.groupBy[0]);
  for (const d of DIMENSIONS) {
    const id = uid("gb");
    const cb = h("input", { type: "checkbox", id, value: d.key, checked: p.groupBy.includes(d.key) });
    cb.addEventListener("change", () => {
      const next = top ? [d.key] : DIMENSIONS.map((x) => x.key).filter((k) => (k === d.key ? cb.checked : p.groupBy.includes(k)));
      if (!next.length) {
        cb.checked = true;
        return;
      }
      apply({ groupBy: next, filters: p.filters });
    });
    groupSet.append(h("div", { class: "chip" }, cb, h("label", { for: id }, d.label)));
  }
  // the top values of one dimension with many values: exclusive, like radio buttons
  const topSet = h("fieldset", { class: "chips" }, h("legend", {}, "Top by cost"));
  const tops = TOP.concat((meta.tagDimensions || []).map((t) => ({ key: "tag:" + t, label: "Tag " + t })));
  for (const d of tops) {
    const id = uid("top");
    const cb = h("input", { type: "checkbox", id, value: d.key, checked: p.groupBy[0] === d.key });
    cb.addEventListener("change", () => apply({ groupBy: cb.checked ? [d.key] : DEFAULT_GROUP.slice(), filters: p.filters }));
    topSet.append(h("div", { class: "chip" }, cb, h("label", { for: id }, d.label)));
  }

  const form = h("form", { class: "filters", "aria-label": "Filters" });
  const inputs = {};
  const mkSelect = (name, label, values) => {
    const id = uid("flt");
    const sel = h("select", { id, name },
      h("option", { value: "__any" }, "Any"),
      h("option", { value: "__null" }, UNATTRIBUTED),
      values.map((v) => h("option", { value: v }, v)));
    const cur = p.filters[name];
    if (cur !== undefined && cur !== "" && !values.includes(cur)) sel.append(h("option", { value: cur }, cur));
    sel.value = cur === undefined ? "__any" : cur === "" ? "__null" : cur;
    inputs[name] = () => (sel.value === "__any" ? undefined : sel.value === "__null" ? "" : sel.value);
    return h("div", { class: "field" }, h("label", { for: id }, label), sel);
  };
  const mkText = (name, label, placeholder) => {
    const id = uid("flt");
    const inp = h("input", { id, name, type: "text", placeholder, value: p.filters[name] || "", spellcheck: "false" });
    inputs[name] = () => (inp.value.trim() === "" ? undefined : inp.value.trim());
    return h("div", { class: "field" }, h("label", { for: id }, label), inp);
  };
  form.append(
    mkSelect("project", "Project", meta.projects.map((x) => x.slug)),
    mkSelect("environment", "Environment", meta.environments),
    mkText("feature", "Feature", "any"),
    mkText("provider", "Provider", "any"),
    mkText("model", "Model", "any"),
    h("div", { class: "filter-actions" },
      h("button", { class: "btn btn-primary", type: "submit" }, "Apply filters"),
      h("button", { class: "btn btn-ghost", type: "button", onClick: () => apply({ groupBy: p.groupBy, filters: {} }) }, "Clear")));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const filters = {};
    for (const [k, get] of Object.entries(inputs)) {
      const v = get();
      if (v !== undefined) filters[k] = v;
    }
    apply({ groupBy: p.groupBy, filters });
  });
  if (top) { // the per-value counters take no attribution filter: say so rather than ignore them
    for (const el of form.querySelectorAll("select, input, button")) el.disabled = true;
    form.append(h("p", { class: "muted" }, "Filters apply to project, environment, feature, provider and model groupings, not to the top end users, keys or tags."));
  }
  return card(null, { class: "controls" }, groupSet, topSet, form);
}

function rowLabel(row, groupBy) {
  return groupBy.map((k) => cellText(k, row[k])).join(" · ");
}

function chart(res, groupBy, totalNanos) {
  if (isTimeOnly(groupBy)) {
    const key = groupBy[0];
    const step = key === "hour" ? 3600e3 : 86400e3;
    const by = new Map(res.rows.map((r) => [new Date(r[key]).getTime(), r]));
    const points = [];
    for (let t = new Date(res.from).getTime(); t < new Date(res.to).getTime() && points.length < 2000; t += step) {
      const r = by.get(t);
      const d = new Date(t);
      points.push({ start: d, value: r ? Number(r.costUsd) : 0, title: `${key === "hour" ? `${formatDayShort(d)} ${formatHour(d)}` : formatDayShort(d)} UTC\n${formatUsd(r ? r.costUsd : "0")} · ${formatInt(r ? r.events : 0)} events` });
    }
    return columnChart({ points, bucket: key, formatY: formatUsdAxis, label: `Spend per ${key}` });
  }
  const rows = res.rows.slice(0, 12).map((r) => {
    const n = parseNanos(r.costUsd) || 0n;
    const share = totalNanos > 0n ? Number((n * 10000n) / totalNanos) / 10000 : 0;
    return {
      label: rowLabel(r, groupBy),
      value: Number(r.costUsd),
      display: formatUsd(r.costUsd),
      muted: groupBy.some((k) => r[k] === null),
      title: `${rowLabel(r, groupBy)}\n${formatUsdExact(r.costUsd)} · ${formatPct(share)} · ${formatInt(r.events)} events`,
    };
  });
  return h("div", { class: "chart-host" }, barChart({ rows, label: "Spend by " + groupBy.join(" and ") }));
}

function table(res, groupBy, totalNanos) {
  const head = h("tr", {},
    groupBy.map((k) => h("th", { scope: "col" }, dimLabel(k))),
    h("th", { scope: "col", class: "num" }, "Events"),
    h("th", { scope: "col", class: "num" }, "Input tokens"),
    h("th", { scope: "col", class: "num" }, "Output tokens"),
    h("th", { scope: "col", class: "num" }, "Cached"),
    h("th", { scope: "col", class: "num" }, "Cost"),
    h("th", { scope: "col", class: "num" }, "Share"));
  const rows = res.rows.map((r) => {
    const n = parseNanos(r.costUsd) || 0n;
    const share = totalNanos > 0n ? Number((n * 10000n) / totalNanos) / 10000 : 0;
    return h("tr", {},
      groupBy.map((k) => h("td", { class: k === "model" || k === "key" ? "mono" : null },
        r[k] === null ? h("span", { class: "unattributed" }, UNATTRIBUTED) : cellText(k, r[k]))),
      h("td", { class: "num" }, formatInt(r.events)),
      h("td", { class: "num" }, formatInt(r.inputTokens)),
      h("td", { class: "num" }, formatInt(r.outputTokens)),
      h("td", { class: "num" }, formatInt(r.cachedTokens)),
      h("td", { class: "num strong", title: formatUsdExact(r.costUsd) }, formatUsd(r.costUsd)),
      h("td", { class: "num" }, h("span", { class: "share" }, h("span", { class: "share-bar", style: `width:${Math.round(share * 100)}%` }), formatPct(share))));
  });
  const t = res.total;
  const foot = h("tr", {},
    h("th", { scope: "row", colspan: groupBy.length }, "Total"),
    h("td", { class: "num" }, formatInt(t.events)),
    h("td", { class: "num" }, formatInt(t.inputTokens)),
    h("td", { class: "num" }, formatInt(t.outputTokens)),
    h("td", { class: "num" }, formatInt(t.cachedTokens)),
    h("td", { class: "num strong", title: formatUsdExact(t.costUsd) }, formatUsd(t.costUsd)),
    h("td", { class: "num" }, totalNanos > 0n ? "100%" : "—"));
  return h("div", { class: "table-wrap" }, h("table", { class: "table", "aria-label": "Spend breakdown" }, h("thead", {}, head), h("tbody", {}, rows), h("tfoot", {}, foot)));
}

function downloadCsv(res, workspace) {
  const cols = [...res.groupBy, "events", "inputTokens", "outputTokens", "cachedTokens", "cacheWriteTokens", "costUsd"];
  const esc = (v) => {
    const s = v === null || v === undefined ? "" : String(v);
    return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  const lines = [cols.join(",")].concat(res.rows.map((r) => cols.map((c) => esc(r[c])).join(",")));
  const blob = new Blob([lines.join("\n") + "\n"], { type: "text/csv" });
  const a = h("a", { href: URL.createObjectURL(blob), download: `costlynx-${workspace}-costs-${res.from.slice(0, 10)}.csv` });
  document.body.append(a);
  a.click();
  setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
}
