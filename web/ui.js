// Reusable pieces of the dashboard: page header, cards, states, badges, dialogs, toasts.
import { h, icon, uid } from "./dom.js";
import { RANGES, state, setRange, rangeDays, rangeLabel } from "./state.js";
import { todayUtc } from "./format.js";

export function pageHeader(title, subtitle, ...right) {
  return h("header", { class: "page-header" },
    h("div", {}, h("h1", {}, title), subtitle ? h("p", { class: "subtitle" }, subtitle) : null),
    h("div", { class: "page-actions" }, ...right));
}

export function card(title, opts = {}, ...children) {
  const headingId = uid("card");
  return h("section", { class: "card " + (opts.class || ""), "aria-labelledby": title ? headingId : null },
    title || opts.actions
      ? h("div", { class: "card-head" },
        h("div", {}, title ? h("h2", { id: headingId }, title) : null, opts.sub ? h("p", { class: "card-sub" }, opts.sub) : null),
        opts.actions ? h("div", { class: "card-actions" }, opts.actions) : null)
      : null,
    ...children);
}

export function loading(text = "Loading…") {
  return h("div", { class: "state loading", role: "status", "aria-busy": "true" }, h("span", { class: "spinner", "aria-hidden": "true" }), text);
}

export function errorState(err, onRetry) {
  const msg = err && err.message ? err.message : String(err);
  return h("div", { class: "state error", role: "alert" },
    h("strong", {}, err && err.status ? `Request failed (HTTP ${err.status})` : "Something went wrong"),
    h("p", {}, msg),
    onRetry ? h("button", { class: "btn", type: "button", onClick: onRetry }, icon("refresh"), "Retry") : null);
}

export function emptyState(title, ...body) {
  return h("div", { class: "state empty" }, h("strong", { class: "empty-title" }, title), ...body);
}

export function badge(text, kind = "neutral", title) {
  return h("span", { class: `badge badge-${kind}`, title }, text);
}

const FLAG_INFO = {
  unpriced: ["unpriced", "warn", "No catalog price and no estimatedCostUsd: stored without a cost figure"],
  unknown_project: ["unknown project", "danger", "The project slug does not exist: stored without project attribution"],
  unknown_environment: ["unknown env", "danger", "The environment slug does not exist: stored without environment attribution"],
  no_attribution: ["no attribution", "muted", "No project given and the key has no default project"],
};
export function flagBadge(flag) {
  const [text, kind, title] = FLAG_INFO[flag] || [flag, "neutral", flag];
  return badge(text, kind, title);
}

/** A slug cell: the value, or "(unattributed)" for null (with what the event sent, if known). */
export function attr(value, asSent) {
  if (value === null || value === undefined || value === "") {
    return h("span", { class: "unattributed", title: asSent ? `sent as "${asSent}" (unknown)` : "no attribution" },
      "(unattributed)", asSent ? h("span", { class: "as-sent" }, asSent) : null);
  }
  return h("span", { class: "slug" }, value);
}

export function statCard(label, value, sub, opts = {}) {
  return h(opts.href ? "a" : "div", { class: "stat " + (opts.kind ? "stat-" + opts.kind : ""), href: opts.href, title: opts.title, "aria-label": opts.href ? `${label}: ${value}` : null },
    h("span", { class: "stat-label" }, label),
    h("span", { class: "stat-value", "data-stat": opts.id || null }, value),
    sub ? h("span", { class: "stat-sub" }, sub) : null);
}

// ---- toasts ----
let toastHost = null;
export function toast(message, kind = "ok") {
  if (!toastHost) {
    toastHost = h("div", { class: "toasts", role: "status", "aria-live": "polite" });
    document.body.append(toastHost);
  }
  const t = h("div", { class: "toast toast-" + kind }, kind === "ok" ? icon("check") : null, message);
  toastHost.append(t);
  setTimeout(() => t.classList.add("leaving"), 3600);
  setTimeout(() => t.remove(), 4000);
}

// ---- copying ----
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // http:// origins other than localhost have no async clipboard: fall back to execCommand
    const ta = h("textarea", { class: "sr-only", "aria-hidden": "true" });
    ta.value = text;
    document.body.append(ta);
    ta.select();
    let ok = false;
    try {
      ok = document.execCommand("copy");
    } catch {
      ok = false;
    }
    ta.remove();
    return ok;
  }
}

export function copyButton(getText, label = "Copy") {
  const btn = h("button", { class: "btn btn-small", type: "button", "aria-label": label }, icon("copy"), "Copy");
  btn.addEventListener("click", async () => {
    const ok = await copyText(typeof getText === "function" ? getText() : getText);
    btn.lastChild.textContent = ok ? "Copied" : "Select & copy";
    setTimeout(() => (btn.lastChild.textContent = "Copy"), 1800);
  });
  return btn;
}

export function codeBlock(text, label) {
  return h("div", { class: "code" },
    h("pre", { tabindex: "0", "aria-label": label }, h("code", {}, text)),
    copyButton(text, "Copy " + label));
}

// ---- confirm dialog ----
export function confirmDialog({ title, message, confirmLabel = "Confirm", danger = false }) {
  return new Promise((resolve) => {
    const titleId = uid("dlg");
    const dlg = h("dialog", { class: "dialog", "aria-labelledby": titleId },
      h("h2", { id: titleId }, title),
      h("p", {}, message),
      h("div", { class: "dialog-actions" },
        h("button", { class: "btn", type: "button", value: "cancel", onClick: () => dlg.close("cancel") }, "Cancel"),
        h("button", { class: "btn " + (danger ? "btn-danger" : "btn-primary"), type: "button", onClick: () => dlg.close("ok") }, confirmLabel)));
    dlg.addEventListener("close", () => {
      resolve(dlg.returnValue === "ok");
      dlg.remove();
    });
    document.body.append(dlg);
    dlg.showModal();
  });
}

// ---- time range control ----
export function rangeControl(onChange) {
  const wrap = h("div", { class: "range", role: "group", "aria-label": "Time range" });
  const seg = h("div", { class: "segmented" });
  const custom = h("form", { class: "range-custom", hidden: state.range.kind !== "custom" });
  const days = rangeDays();
  const fromIn = h("input", { type: "date", value: days.from, max: todayUtc(), required: true, "aria-label": "From date" });
  const toIn = h("input", { type: "date", value: days.to, max: todayUtc(), required: true, "aria-label": "To date" });
  const err = h("span", { class: "range-error", role: "alert" });
  custom.append(fromIn, h("span", { "aria-hidden": "true" }, "→"), toIn, h("button", { class: "btn btn-small", type: "submit" }, "Apply"), err);
  custom.addEventListener("submit", (e) => {
    e.preventDefault();
    if (!fromIn.value || !toIn.value || fromIn.value > toIn.value) {
      err.textContent = "The start must be on or before the end.";
      return;
    }
    err.textContent = "";
    setRange({ kind: "custom", from: fromIn.value, to: toIn.value });
    onChange();
  });
  for (const r of RANGES) {
    const b = h("button", { type: "button", class: "seg", "aria-pressed": String(state.range.kind === r.kind) }, r.label);
    b.addEventListener("click", () => {
      if (r.kind === "custom") {
        for (const x of seg.children) x.setAttribute("aria-pressed", String(x === b));
        custom.hidden = false;
        fromIn.focus();
        return;
      }
      setRange({ kind: r.kind });
      onChange();
    });
    seg.append(b);
  }
  wrap.append(seg, custom);
  return wrap;
}

export function rangeSubtitle(prefix) {
  return `${prefix} · workspace ${state.workspace} · ${rangeLabel()}`;
}
