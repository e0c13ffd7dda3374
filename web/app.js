// costlynx dashboard: sign-in, the shell (sidebar, workspace picker) and the hash router.
import { h, icon, replace, clear, select } from "./dom.js";
import * as api from "./api.js";
import { state, setWorkspace } from "./state.js";
import { errorState, loading } from "./ui.js";
import * as overview from "./overview.js";
import * as costs from "./costs.js";
import * as warnings from "./warnings.js";
import * as budgets from "./budgets.js";
import * as alerts from "./alerts.js";
import * as settings from "./settings.js";

const PAGES = {
  overview: { title: "Overview", icon: "overview", mod: overview },
  costs: { title: "Costs", icon: "costs", mod: costs },
  warnings: { title: "Warnings", icon: "warnings", mod: warnings },
  budgets: { title: "Budgets", icon: "budgets", mod: budgets },
  alerts: { title: "Alerts", icon: "alerts", mod: alerts },
  settings: { title: "Settings", icon: "settings", mod: settings },
};

const root = document.getElementById("app");
let renderSeq = 0;
let shell = null; // {main, nav, wsSelect, warnBadge}
let signInMessage = "";

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [path, qs] = raw.split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { page: parts[0] || "overview", sub: parts[1] || "", params: new URLSearchParams(qs || "") };
}

/** Navigate to "#/page?query" (replaceState when only the query changes, so Back stays useful). */
export function navigate(hash, { replaceOnly = false } = {}) {
  if (replaceOnly) {
    history.replaceState(null, "", hash);
    route();
  } else if (location.hash === hash) {
    route();
  } else {
    location.hash = hash;
  }
}

// ---- sign-in ------------------------------------------------------------------------------

function renderSignIn(message = "") {
  shell = null;
  document.title = "Sign in · costlynx";
  const tokenIn = h("input", { id: "admin-token", type: "password", name: "token", autocomplete: "current-password", required: true, spellcheck: "false" });
  const err = h("div", { class: "form-error", role: "alert", id: "signin-error" }, message);
  const btn = h("button", { class: "btn btn-primary btn-block", type: "submit" }, "Sign in");
  const form = h("form", { class: "signin-card", "aria-labelledby": "signin-title" },
    h("div", { class: "brand brand-lg" }, logo(), h("span", {}, "costlynx")),
    h("h1", { id: "signin-title" }, "Sign in to the dashboard"),
    h("p", { class: "muted" }, "LLM usage and cost monitoring. Enter the admin token this server was started with."),
    h("div", { class: "field" },
      h("label", { for: "admin-token" }, "Admin token"),
      tokenIn,
      h("small", { class: "hint" }, "The value of --admin-token or COSTLYNX_ADMIN_TOKEN (printed once at the first start when neither was set). It is kept only for this browser tab's session.")),
    err, btn);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const token = tokenIn.value.trim();
    if (!token) {
      err.textContent = "Enter the admin token.";
      return;
    }
    btn.disabled = true;
    btn.textContent = "Signing in…";
    err.textContent = "";
    try {
      const res = await api.get("/api/v1/admin/workspaces", undefined, { token });
      api.setToken(token);
      state.workspaces = res.workspaces || [];
      signInMessage = "";
      await start();
    } catch (ex) {
      btn.disabled = false;
      btn.textContent = "Sign in";
      err.textContent = ex.status === 401
        ? "That admin token was not accepted (401 unauthenticated). Check the token and try again."
        : ex.message;
      tokenIn.select();
    }
  });
  replace(root, h("main", { class: "signin" }, form));
  tokenIn.focus();
}

function logo() {
  return h("span", { class: "logo", "aria-hidden": "true" },
    h("img", { src: "/favicon.svg", alt: "", width: 28, height: 28 }));
}

function signOut(message = "") {
  api.clearToken();
  renderSignIn(message);
}

// ---- the shell ----------------------------------------------------------------------------

function buildShell() {
  const nav = h("nav", { class: "nav", "aria-label": "Main" });
  for (const [key, p] of Object.entries(PAGES)) {
    const a = h("a", { href: `#/${key}`, class: "nav-link", dataset: { page: key } }, icon(p.icon), h("span", {}, p.title));
    if (key === "warnings") a.append(h("span", { class: "nav-badge", hidden: true, "aria-label": "warnings" }));
    nav.append(a);
  }
  const wsSelect = h("select", { id: "ws-picker" });
  wsSelect.addEventListener("change", () => {
    setWorkspace(wsSelect.value);
    route();
  });
  const main = h("main", { id: "main", class: "main", tabindex: "-1" });
  const aside = h("aside", { class: "sidebar" },
    h("a", { class: "brand", href: "#/overview", "aria-label": "costlynx home" }, logo(), h("span", {}, "costlynx")),
    h("div", { class: "field ws-field" }, h("label", { for: "ws-picker" }, "Workspace"), wsSelect),
    nav,
    h("div", { class: "sidebar-foot" },
      h("a", { href: "/openapi.json", class: "foot-link", target: "_blank", rel: "noopener" }, "API reference (OpenAPI)"),
      h("button", { class: "btn btn-ghost btn-block", type: "button", onClick: () => signOut("You have signed out.") }, icon("signout"), "Sign out")));
  replace(root, h("div", { class: "layout" }, h("a", { class: "skip", href: "#main", onClick: (e) => { e.preventDefault(); main.focus(); } }, "Skip to content"), aside, main));
  shell = { main, nav, wsSelect };
  fillWorkspaces();
}

function fillWorkspaces() {
  if (!shell) return;
  const list = state.workspaces.length ? state.workspaces : [{ slug: "default", name: "Default workspace" }];
  if (!list.some((w) => w.slug === state.workspace)) setWorkspace(list[0].slug);
  const sel = select(list.map((w) => ({ value: w.slug, label: w.slug })), { value: state.workspace });
  const cur = list.find((w) => w.slug === state.workspace);
  shell.wsSelect.title = cur && cur.name ? `${cur.name} (${cur.slug})` : "";
  replace(shell.wsSelect, ...sel.children);
  shell.wsSelect.value = state.workspace;
}

/** Re-read the workspace list (after creating one in Settings). */
export async function reloadWorkspaces(selectSlug) {
  const res = await api.get("/api/v1/admin/workspaces");
  state.workspaces = res.workspaces || [];
  if (selectSlug) setWorkspace(selectSlug);
  fillWorkspaces();
}

/** Show the number of warning events next to "Warnings" in the sidebar. */
export function setWarningCount(n) {
  if (!shell) return;
  const b = shell.nav.querySelector(".nav-badge");
  if (!b) return;
  b.hidden = !n;
  b.textContent = n > 99 ? "99+" : String(n || "");
  b.setAttribute("aria-label", `${n} events need attention`);
}

async function route() {
  if (!api.getToken()) return renderSignIn(signInMessage);
  if (!shell) buildShell();
  const r = parseHash();
  const page = PAGES[r.page];
  for (const a of shell.nav.querySelectorAll(".nav-link")) {
    if (a.dataset.page === r.page) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const seq = ++renderSeq;
  const main = shell.main;
  if (!page) {
    document.title = "Not found · costlynx";
    replace(main, h("div", { class: "state empty" }, h("strong", { class: "empty-title" }, "Page not found"),
      h("p", {}, "There is no page at ", h("code", {}, location.hash), "."), h("a", { class: "btn", href: "#/overview" }, "Go to the overview")));
    return;
  }
  document.title = `${page.title} · ${state.workspace} · costlynx`;
  clear(main);
  main.append(loading());
  const ctx = {
    main,
    workspace: state.workspace,
    route: r,
    isCurrent: () => seq === renderSeq,
    rerender: () => route(),
    navigate,
    reloadWorkspaces,
    setWarningCount,
  };
  try {
    await page.mod.render(ctx);
  } catch (err) {
    if (seq !== renderSeq || err.status === 401) return;
    replace(main, errorState(err, () => route()));
  }
}

async function start() {
  if (!location.hash || location.hash === "#" || location.hash === "#/") history.replaceState(null, "", "#/overview");
  if (!state.workspaces.length) {
    try {
      state.workspaces = (await api.get("/api/v1/admin/workspaces")).workspaces || [];
    } catch (err) {
      if (err.status === 401) return; // handled: back to sign-in
      buildShell();
      replace(shell.main, errorState(err, () => start()));
      return;
    }
  }
  shell = null;
  await route();
}

api.setUnauthorizedHandler(() => {
  signOut("Your admin token is no longer accepted (401). Sign in again.");
});
window.addEventListener("hashchange", () => route());

if (api.getToken()) start();
else renderSignIn();
