// Alerts: where alerts go (webhook and Slack channels, with a test message), every delivery with
// its state (pending, delivered, failed with the last error), and the spend anomalies flagged.
import { h, replace, field, select } from "./dom.js";
import * as api from "./api.js";
import { formatUsdExact, formatTime } from "./format.js";
import { pageHeader, card, emptyState, badge, toast, confirmDialog, codeBlock } from "./ui.js";

const STATE_KIND = { delivered: "ok", pending: "warn", failed: "danger" };

export async function render(ctx) {
  const { main, workspace } = ctx;
  const [channels, alerts, anomalies] = await Promise.all([
    api.get(api.wsPath(workspace, "/channels")),
    api.get(api.wsPath(workspace, "/alerts")),
    api.get(api.wsPath(workspace, "/anomalies")),
  ]);
  if (!ctx.isCurrent()) return;
  const header = pageHeader("Alerts", "Budget thresholds, spend anomalies, new models, unpriced events and lock refusals, delivered to your channels at least once (receivers dedup on the alert id).",
    h("button", { class: "btn", type: "button", onClick: () => ctx.rerender() }, "Refresh"));

  // ---- channels ----
  const chRows = (channels.channels || []).map((c) => {
    const test = h("button", { class: "btn btn-small", type: "button", "aria-label": `Send a test message to ${c.name}` }, "Send test");
    test.addEventListener("click", async () => {
      test.disabled = true;
      try {
        const r = await api.post(api.wsPath(workspace, `/channels/${encodeURIComponent(c.id)}/test`), {});
        toast(`Test message queued (${r.alertId})`);
        setTimeout(() => ctx.rerender(), 1500);
      } catch (ex) {
        toast(ex.message, "error");
        test.disabled = false;
      }
    });
    const del = h("button", { class: "btn btn-small btn-danger-ghost", type: "button", "aria-label": `Delete channel ${c.name}` }, "Delete");
    del.addEventListener("click", async () => {
      if (!(await confirmDialog({ title: `Delete the channel "${c.name}"?`, message: "Its pending deliveries fail.", confirmLabel: "Delete", danger: true }))) return;
      await api.del(api.wsPath(workspace, `/channels/${encodeURIComponent(c.id)}`));
      ctx.rerender();
    });
    return h("tr", {}, h("td", { class: "strong" }, c.name, h("span", { class: "cell-sub mono" }, c.id)), h("td", {}, badge(c.type, "muted")),
      h("td", { class: "mono" }, c.url), h("td", { class: "nowrap" }, formatTime(c.createdAt)), h("td", { class: "actions" }, test, " ", del));
  });
  const chTable = chRows.length
    ? h("div", { class: "table-wrap" }, h("table", { class: "table", "aria-label": "Alert channels" },
      h("thead", {}, h("tr", {}, ...["Channel", "Type", "URL", "Created"].map((t) => h("th", { scope: "col" }, t)), h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Actions")))),
      h("tbody", {}, chRows)))
    : emptyState("No channels", h("p", {}, "Alerts are recorded but sent nowhere until a channel exists."));
  const name = h("input", { name: "name", required: true, placeholder: "ops" });
  const type = select([{ value: "webhook", label: "Webhook (signed JSON)" }, { value: "slack", label: "Slack incoming webhook" }], { name: "type", value: "webhook" });
  const url = h("input", { name: "url", required: true, type: "url", placeholder: "https://ops.example.com/costlynx" });
  const err = h("div", { class: "form-error", role: "alert" });
  const secretHost = h("div", { class: "secret-once" });
  const submit = h("button", { class: "btn btn-primary", type: "submit" }, "Add channel");
  const form = h("form", { class: "form-grid", "aria-label": "New channel" },
    field("Name", name).wrap, field("Type", type).wrap, field("URL", url, "Loopback and private addresses are refused unless the operator allows them (--webhook-allow)").wrap,
    h("div", { class: "field form-submit" }, submit), err);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    err.textContent = "";
    submit.disabled = true;
    try {
      const c = await api.post(api.wsPath(workspace, "/channels"), { name: name.value.trim(), type: type.value, url: url.value.trim() });
      toast(`Channel "${c.name}" added`);
      if (c.secret) {
        replace(secretHost, h("div", { class: "callout callout-warn" }, h("strong", {}, "Signing secret — shown once: "),
          "verify X-Costlynx-Signature (HMAC-SHA256 of timestamp + \".\" + body) with it."), codeBlock(c.secret, "Signing secret"));
      }
      name.value = url.value = "";
      submit.disabled = false;
    } catch (ex) {
      err.textContent = ex.field ? `${ex.field}: ${ex.message}` : ex.message;
      submit.disabled = false;
    }
  });

  // ---- deliveries ----
  const items = (alerts.alerts || []).slice().sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1));
  const delivTable = items.length
    ? h("div", { class: "table-wrap table-scroll" }, h("table", { class: "table", "aria-label": "Deliveries" },
      h("thead", {}, h("tr", {}, ...["Alert", "Kind", "Channel", "State", "Attempts", "Created", "Next attempt", "Last error"].map((t) => h("th", { scope: "col", class: t === "Attempts" ? "num" : null }, t)))),
      h("tbody", {}, items.map((a) => h("tr", {},
        h("td", { class: "mono" }, a.id), h("td", {}, a.kind), h("td", { class: "mono" }, a.channel),
        h("td", {}, badge(a.state, STATE_KIND[a.state] || "muted")), h("td", { class: "num" }, String(a.attempts)),
        h("td", { class: "nowrap" }, formatTime(a.createdAt)), h("td", { class: "nowrap" }, a.nextAttemptAt ? formatTime(a.nextAttemptAt) : "—"),
        h("td", {}, a.lastError || ""))))))
    : emptyState("No alerts yet", h("p", {}, "Deliveries appear here with their state."));

  // ---- anomalies ----
  const an = anomalies.anomalies || [];
  const anTable = an.length
    ? h("div", { class: "table-wrap" }, h("table", { class: "table", "aria-label": "Anomalies" },
      h("thead", {}, h("tr", {}, ...["Hour", "Scope", "Observed", "Usual", "Ratio", "Why"].map((t) => h("th", { scope: "col", class: ["Observed", "Usual", "Ratio"].includes(t) ? "num" : null }, t)))),
      h("tbody", {}, an.map((a) => h("tr", {},
        h("td", { class: "nowrap" }, formatTime(a.hour)), h("td", {}, `${a.scope.type} `, h("span", { class: "mono" }, a.scope.name)),
        h("td", { class: "num" }, formatUsdExact(a.observedUsd)), h("td", { class: "num" }, formatUsdExact(a.baselineUsd)),
        h("td", { class: "num" }, `${a.ratio}×`), h("td", {}, a.reason))))))
    : emptyState("No anomalies", h("p", {}, `No hour of the last 7 days stood out (sensitivity ${anomalies.sensitivity}).`));

  replace(main, header,
    card("Channels", { sub: "Every alert of the workspace goes to every channel." }, chTable, h("h3", { class: "sub-head" }, "Add a channel"), form, secretHost),
    card("Deliveries", { sub: `${items.length} deliver${items.length === 1 ? "y" : "ies"}; retried with backoff for up to 24 hours` }, delivTable),
    card("Spend anomalies", { sub: `Hours far above the same hour on comparable days (sensitivity ${anomalies.sensitivity}; set it in the workspace settings)` }, anTable));
}
