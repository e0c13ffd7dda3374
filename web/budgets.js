// Budgets: each budget's spend this period (exact), percent, forecast and fired thresholds; create
// and delete. The check gateways call (GET /api/v1/budgets/check) reads the same figures.
import { h, replace, field, select } from "./dom.js";
import * as api from "./api.js";
import { formatUsd, formatUsdExact, formatTime } from "./format.js";
import { pageHeader, card, emptyState, badge, toast, confirmDialog } from "./ui.js";

const SCOPES = [
  { value: "workspace", label: "Whole workspace" },
  { value: "project", label: "Project" },
  { value: "environment", label: "Project + environment" },
  { value: "feature", label: "Feature" },
  { value: "key", label: "Ingestion key" },
  { value: "user", label: "End user (userId)" },
  { value: "tag", label: "Tag value" },
];

function scopeText(s) {
  switch (s.type) {
    case "project": return `project ${s.project}`;
    case "environment": return `${s.project} / ${s.environment}`;
    case "feature": return s.project ? `feature ${s.feature} in ${s.project}` : `feature ${s.feature}`;
    case "key": return `key ${s.key}`;
    case "user": return `user ${s.user}`;
    case "tag": return `tag ${s.tag}=${s.value}`;
    default: return "whole workspace";
  }
}

function meter(pct) {
  const w = Math.max(0, Math.min(100, pct));
  const kind = pct >= 100 ? "danger" : pct >= 80 ? "warn" : "ok";
  return h("span", { class: `meter meter-${kind}`, role: "meter", "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": Math.min(pct, 100), "aria-label": `${pct}% of the budget` },
    h("span", { class: "meter-fill", style: `width:${w}%` }));
}

export async function render(ctx) {
  const { main, workspace } = ctx;
  const [list, projects, keys, channels] = await Promise.all([
    api.get(api.wsPath(workspace, "/budgets")),
    api.get(api.wsPath(workspace, "/projects")),
    api.get(api.wsPath(workspace, "/keys")),
    api.get(api.wsPath(workspace, "/channels")),
  ]);
  if (!ctx.isCurrent()) return;
  const budgets = list.budgets || [];

  const header = pageHeader("Budgets", "Spend this period against each budget, from the rollups and every written event (exact). Gateways can ask GET /api/v1/budgets/check before a call.");

  const rows = budgets.map((b) => {
    const st = b.state || {};
    const del = h("button", { class: "btn btn-small btn-danger-ghost", type: "button", "aria-label": `Delete budget ${b.name}` }, "Delete");
    del.addEventListener("click", async () => {
      if (!(await confirmDialog({ title: `Delete the budget "${b.name}"?`, message: "Alerts already sent stay in the Alerts list.", confirmLabel: "Delete", danger: true }))) return;
      await api.del(api.wsPath(workspace, `/budgets/${encodeURIComponent(b.id)}`));
      toast(`Budget "${b.name}" deleted`);
      ctx.rerender();
    });
    return h("tr", { dataset: { budget: b.id } },
      h("td", { class: "strong" }, b.name, h("span", { class: "cell-sub" }, scopeText(b.scope))),
      h("td", {}, b.period, h("span", { class: "cell-sub" }, st.periodStart ? `${formatTime(st.periodStart)} → ${formatTime(st.periodEnd)}${st.timeZone === "UTC" ? "" : ` (periods in ${st.timeZone})`}` : "")),
      h("td", { class: "num" }, formatUsdExact(st.spentUsd || "0"), h("span", { class: "cell-sub" }, `of ${formatUsdExact(b.amountUsd)}`)),
      h("td", { class: "num" }, h("span", { class: "share" }, `${st.percent ?? 0}%`, meter(st.percent ?? 0))),
      h("td", { class: "num", title: `${formatUsdExact(st.forecastUsd || "0")}: the period-to-date rate continued to the period's end` }, formatUsd(st.forecastUsd || "0")),
      h("td", {}, h("span", { class: "chiplist" }, ...b.thresholds.map((t) => badge(`${t}%`, (st.fired || []).includes(t) ? "warn" : "muted", (st.fired || []).includes(t) ? "fired this period" : "not reached")))),
      h("td", {}, st.exceeded ? badge("spent", "danger") : badge("within", "ok")),
      h("td", { class: "actions" }, del));
  });
  const table = budgets.length
    ? h("div", { class: "table-wrap" }, h("table", { class: "table", "aria-label": "Budgets" },
      h("thead", {}, h("tr", {}, ...["Budget", "Period", "Spent", "Used", "Forecast", "Thresholds", "State"].map((t) => h("th", { scope: "col", class: ["Spent", "Used", "Forecast"].includes(t) ? "num" : null }, t)), h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Actions")))),
      h("tbody", {}, rows)))
    : emptyState("No budgets yet", h("p", {}, "Create one below: a scope, a period and an amount. Alerts go to the channels on the Alerts page."));

  // ---- the form ----
  const name = h("input", { name: "name", required: true, maxlength: 200, placeholder: "Support monthly" });
  const scope = select(SCOPES, { name: "scope", value: "workspace" });
  const project = select([{ value: "", label: "—" }, ...(projects.projects || []).map((p) => ({ value: p.slug, label: p.slug }))], { name: "project" });
  const environment = h("input", { name: "environment", placeholder: "prod" });
  const feature = h("input", { name: "feature", placeholder: "chat" });
  const key = select([{ value: "", label: "—" }, ...(keys.keys || []).filter((k) => !k.revokedAt).map((k) => ({ value: k.id, label: `${k.name} (${k.id})` }))], { name: "key" });
  const user = h("input", { name: "user", placeholder: "cust-42" });
  const tagKey = h("input", { name: "tag", placeholder: "team" });
  const tagValue = h("input", { name: "value", placeholder: "support" });
  const period = select([{ value: "month", label: "Calendar month" }, { value: "week", label: "Week (from Monday)" }, { value: "day", label: "Day" }], { name: "period", value: "month" });
  const amount = h("input", { name: "amountUsd", required: true, inputmode: "decimal", placeholder: "250.00" });
  const thresholds = h("input", { name: "thresholds", value: "50, 80, 100" });
  const chanSel = h("select", { name: "channels", multiple: true, size: 3 },
    (channels.channels || []).map((c) => h("option", { value: c.id }, `${c.name} (${c.type})`)));
  const err = h("div", { class: "form-error", role: "alert" });
  const fields = {
    project: field("Project", project), environment: field("Environment", environment),
    feature: field("Feature", feature), key: field("Ingestion key", key),
    user: field("User id", user), tag: field("Tag key", tagKey), value: field("Tag value", tagValue),
  };
  const showScope = () => {
    const t = scope.value;
    fields.project.wrap.hidden = !["project", "environment", "feature"].includes(t);
    fields.environment.wrap.hidden = t !== "environment";
    fields.feature.wrap.hidden = t !== "feature";
    fields.key.wrap.hidden = t !== "key";
    fields.user.wrap.hidden = t !== "user";
    fields.tag.wrap.hidden = fields.value.wrap.hidden = t !== "tag";
  };
  scope.addEventListener("change", showScope);
  showScope();
  const submit = h("button", { class: "btn btn-primary", type: "submit" }, "Create budget");
  const form = h("form", { class: "form-grid form-grid-prices", "aria-label": "New budget" },
    field("Name", name).wrap, field("Scope", scope).wrap, fields.project.wrap, fields.environment.wrap, fields.feature.wrap, fields.key.wrap,
    fields.user.wrap, fields.tag.wrap, fields.value.wrap,
    field("Period", period).wrap, field("Amount (USD)", amount, "An exact decimal, e.g. 250.00").wrap,
    field("Thresholds (%)", thresholds, "Alerts at these percentages of the amount").wrap,
    field("Alert channels", chanSel, "None selected: every channel of the workspace").wrap,
    h("div", { class: "field form-submit" }, submit), err);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    err.textContent = "";
    const s = { type: scope.value };
    if (!fields.project.wrap.hidden && project.value) s.project = project.value;
    if (!fields.environment.wrap.hidden) s.environment = environment.value.trim();
    if (!fields.feature.wrap.hidden) s.feature = feature.value.trim();
    if (!fields.key.wrap.hidden) s.key = key.value;
    if (!fields.user.wrap.hidden) s.user = user.value.trim();
    if (!fields.tag.wrap.hidden) {
      s.tag = tagKey.value.trim();
      s.value = tagValue.value.trim();
    }
    const body = { name: name.value.trim(), scope: s, period: period.value, amountUsd: amount.value.trim() };
    const t = thresholds.value.split(/[,\s]+/).filter(Boolean).map(Number);
    if (t.length) body.thresholds = t;
    const picked = [...chanSel.selectedOptions].map((o) => o.value);
    if (picked.length) body.channels = picked;
    submit.disabled = true;
    try {
      const b = await api.post(api.wsPath(workspace, "/budgets"), body);
      toast(`Budget "${b.name}" created`);
      ctx.rerender();
    } catch (ex) {
      err.textContent = ex.field ? `${ex.field}: ${ex.message}` : ex.message;
      submit.disabled = false;
    }
  });

  replace(main, header,
    card("Budgets", { sub: `${budgets.length} budget${budgets.length === 1 ? "" : "s"} in ${workspace}` }, table),
    card("New budget", { sub: "Spend is what the scope is charged (the attributed project and environment), in the workspace's time zone." }, form));
}
