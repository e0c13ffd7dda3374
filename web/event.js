// The event detail panel: an event's current version, its cost breakdown, every version (what
// changed, when, by whom, why), and the admin's Void / Amend (POST /api/v1/usage/void | amend with
// the admin token and ?workspace=). Opened from a row of the events table.
import { h, replace, uid } from "./dom.js";
import * as api from "./api.js";
import { formatUsd, formatUsdExact, formatInt, formatTime } from "./format.js";
import { badge, flagBadge, toast, errorState } from "./ui.js";

const AMENDABLE = [
  ["model", "text"], ["inputTokens", "number"], ["outputTokens", "number"], ["cachedTokens", "number"],
  ["project", "text"], ["environment", "text"], ["feature", "text"], ["userId", "text"],
];

function dl(pairs) {
  return h("dl", { class: "kv" }, pairs.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v === null || v === undefined || v === "" ? h("span", { class: "unattributed" }, "(none)") : v)]));
}

function current(e) {
  const cost = e.costUsd === null ? h("span", { class: "unattributed" }, "no cost figure") : h("span", { title: formatUsdExact(e.costUsd) }, formatUsdExact(e.costUsd));
  return h("section", { "aria-label": "Current version" },
    h("div", { class: "badges" }, badge(`version ${e.version}`, "neutral"), e.voided ? badge("voided", "warn", `voided ${e.voidedAt} by ${e.voidedBy}: ${e.voidReason}`) : null,
      ...e.flags.map(flagBadge)),
    dl([
      ["Model / provider", `${e.model} · ${e.provider}`],
      ["Tokens in / out", `${formatInt(e.inputTokens)} (${formatInt(e.cachedTokens)} cached) / ${formatInt(e.outputTokens)}`],
      ["Cost", h("span", {}, cost, e.costSource ? h("span", { class: "cell-sub" }, ` ${e.costSource}${e.priceId ? ": " + e.priceId : ""}`) : null)],
      ["Project / environment", `${e.project || e.projectAsSent || "(none)"} / ${e.environment || e.environmentAsSent || "(none)"}`],
      ["Feature", e.feature], ["User", e.userId], ["Key", e.keyId],
      ["Event time", formatTime(e.timestamp || e.receivedAt)], ["Received", formatTime(e.receivedAt)],
      ...(e.voided ? [["Voided", `${formatTime(e.voidedAt)} by ${e.voidedBy}${e.voidReason ? ": " + e.voidReason : ""}`]] : []),
    ]),
    e.costBreakdown && e.costBreakdown.parts && e.costBreakdown.parts.length
      ? h("table", { class: "table", "aria-label": "Cost breakdown" },
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Part"), h("th", { scope: "col", class: "num" }, "Units"), h("th", { scope: "col", class: "num" }, "Cost"))),
        h("tbody", {}, e.costBreakdown.parts.map((p) => h("tr", {}, h("td", {}, p.kind), h("td", { class: "num" }, formatInt(p.units)), h("td", { class: "num" }, formatUsdExact(p.costUsd))))))
      : null);
}

function history(versions) {
  return h("section", { "aria-label": "History" }, h("h3", {}, "History"),
    h("table", { class: "table", "aria-label": "Versions" },
      h("thead", {}, h("tr", {}, ...["Version", "Change", "When", "By", "Why", "Changed", "Cost"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, versions.slice().reverse().map((v) => h("tr", {},
        h("td", { class: "num" }, String(v.version)), h("td", {}, v.change), h("td", { class: "nowrap" }, formatTime(v.at)),
        h("td", { class: "mono" }, v.by), h("td", {}, v.reason || ""), h("td", {}, (v.changed || []).join(", ")),
        h("td", { class: "num" }, v.event.voided ? "voided" : formatUsd(v.event.costUsd)))))));
}

function actions(ctx, e, reload) {
  if (e.voided) return h("p", { class: "muted" }, "A voided event is in no total and cannot be amended.");
  const reasonId = uid("reason");
  const reason = h("input", { id: reasonId, type: "text", class: "input", placeholder: "why (recorded in the history)", maxlength: "1024" });
  const inputs = AMENDABLE.map(([name, type]) => {
    const id = uid(name);
    const input = h("input", { id, type, class: "input", name, value: e[name] === null || e[name] === undefined ? "" : String(e[name]), min: type === "number" ? "0" : undefined });
    return [name, type, input, h("label", { for: id }, name, input)];
  });
  const status = h("p", { class: "muted", role: "status" });
  const post = async (path, body, done) => {
    status.textContent = "Saving…";
    try {
      const res = await api.post(path, body, { query: { workspace: ctx.workspace } });
      status.textContent = "";
      toast(done(res));
      await reload();
      if (ctx.rerender) ctx.rerender();
    } catch (err) {
      status.textContent = `${err.field ? err.field + ": " : ""}${err.message}`;
    }
  };
  const voidBtn = h("button", { class: "btn btn-danger", type: "button", onClick: () => post("/api/v1/usage/void", { requestIds: [e.requestId], reason: reason.value }, (r) => r.voided ? "Voided: the event left every total" : "Already voided") }, "Void");
  const amendBtn = h("button", { class: "btn btn-primary", type: "button", onClick: () => {
    const set = {};
    for (const [name, type, input] of inputs) {
      const was = e[name] === null || e[name] === undefined ? "" : String(e[name]);
      if (input.value === was) continue;
      set[name] = type === "number" ? Number(input.value) : input.value === "" ? null : input.value;
    }
    if (!Object.keys(set).length) {
      status.textContent = "Change a field first.";
      return;
    }
    post("/api/v1/usage/amend", { requestId: e.requestId, set, reason: reason.value }, (r) => `Amended: version ${r.version}, ${formatUsd(r.event.costUsd)}`);
  } }, "Amend");
  return h("section", { "aria-label": "Correct this event" }, h("h3", {}, "Correct"),
    h("div", { class: "amend-grid" }, ...inputs.map((x) => x[3])),
    h("label", { for: reasonId }, "Reason", reason),
    h("div", { class: "dialog-actions" }, voidBtn, amendBtn), status);
}

/** Opens the panel of requestId in ctx.workspace (admin). */
export function openEventPanel(ctx, requestId) {
  const titleId = uid("evt");
  const body = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  const dlg = h("dialog", { class: "dialog dialog-wide", "aria-labelledby": titleId },
    h("h2", { id: titleId }, "Event ", h("span", { class: "mono" }, requestId)), body,
    h("div", { class: "dialog-actions" }, h("button", { class: "btn", type: "button", onClick: () => dlg.close() }, "Close")));
  dlg.addEventListener("close", () => dlg.remove());
  const reload = async () => {
    try {
      const res = await api.get(api.wsPath(ctx.workspace, `/usage/events/${encodeURIComponent(requestId)}/history`));
      const vs = res.versions;
      const e = vs[vs.length - 1].event;
      replace(body, current(e), history(vs), actions(ctx, e, reload));
    } catch (err) {
      replace(body, errorState(err, reload));
    }
  };
  document.body.append(dlg);
  dlg.showModal();
  reload();
  return dlg;
}
