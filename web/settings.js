// Settings → Configure (workspace, strict mode, projects, environments, ingestion keys)
// and Settings → Pricing catalog (coverage search).
import { h, replace, icon, uid } from "./dom.js";
import * as api from "./api.js";
import { formatTime, formatUsd, formatInt } from "./format.js";
import { pageHeader, card, emptyState, badge, toast, copyButton, confirmDialog } from "./ui.js";

const SLUG_RE = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const SLUG_RULES = "1–64 characters: lowercase letters, digits, “-” and “_”, starting with a letter or digit. It can never be changed.";

export async function render(ctx) {
  const tab = ctx.route.sub === "pricing" ? "pricing" : "configure";
  const tabs = h("nav", { class: "tabs", "aria-label": "Settings sections" },
    h("a", { href: "#/settings", class: "tab", "aria-current": tab === "configure" ? "page" : null }, "Configure"),
    h("a", { href: "#/settings/pricing", class: "tab", "aria-current": tab === "pricing" ? "page" : null }, "Pricing"));
  if (tab === "pricing") return renderPricing(ctx, tabs);
  return renderConfigure(ctx, tabs);
}

// ---- Configure ----------------------------------------------------------------------------

async function loadProjects(ws) {
  const res = await api.get(api.wsPath(ws, "/projects"));
  const list = res.projects || [];
  const envs = await Promise.all(list.map((p) =>
    api.get(api.wsPath(ws, `/projects/${encodeURIComponent(p.slug)}/environments`)).then((r) => r.environments || []).catch(() => [])));
  return list.map((p, i) => ({ ...p, environments: envs[i] }));
}

async function renderConfigure(ctx, tabs) {
  const ws = ctx.workspace;
  const [wsInfo, projects, keys] = await Promise.all([
    api.get(api.wsPath(ws)),
    loadProjects(ws),
    api.get(api.wsPath(ws, "/keys")).then((r) => r.keys || []),
  ]);
  if (!ctx.isCurrent()) return;

  // shared data of the page's sections; `changed` re-draws the sections that depend on projects
  const data = { ws, wsInfo, projects, keys };
  const sections = {};
  const changed = async (what) => {
    if (what === "projects") {
      data.projects = await loadProjects(ws);
      sections.projects.draw();
      sections.envs.draw();
      sections.keys.drawForm();
    } else if (what === "keys") {
      data.keys = (await api.get(api.wsPath(ws, "/keys"))).keys || [];
      sections.keys.drawList();
    }
  };
  sections.workspace = workspaceSection(ctx, data);
  sections.projects = projectsSection(data, changed);
  sections.envs = environmentsSection(data, changed);
  sections.keys = keysSection(data, changed);

  replace(ctx.main,
    pageHeader("Settings", `Workspace ${ws} · event time and tags, projects, environments, ingestion keys and strict mode`),
    tabs,
    sections.workspace.el, sections.projects.el, sections.envs.el, sections.keys.el);
}

function formError() {
  return h("div", { class: "form-error", role: "alert" });
}

function showError(el, err) {
  el.textContent = err ? (err.field ? `${err.message}` : err.message || String(err)) : "";
}

function workspaceSection(ctx, data) {
  const info = data.wsInfo;
  const id = uid("strict");
  const sw = h("input", { type: "checkbox", role: "switch", id, checked: !!info.strictMode, "aria-describedby": id + "-d" });
  const state = h("span", { class: "switch-state" }, info.strictMode ? "On" : "Off");
  sw.addEventListener("change", async () => {
    const want = sw.checked;
    sw.disabled = true;
    try {
      const res = await api.patch(api.wsPath(data.ws), { strictMode: want });
      sw.checked = !!res.strictMode;
      state.textContent = res.strictMode ? "On" : "Off";
      toast(res.strictMode ? "Strict mode on: events with unknown slugs are now rejected." : "Strict mode off: unknown slugs are stored unattributed.");
    } catch (err) {
      sw.checked = !want;
      toast("Could not change strict mode: " + err.message, "error");
    } finally {
      sw.disabled = false;
    }
  });

  const slugIn = h("input", { id: uid("wsslug"), name: "slug", required: true, pattern: SLUG_RE.source, maxlength: 64, placeholder: "acme", spellcheck: "false" });
  const nameIn = h("input", { id: uid("wsname"), name: "name", placeholder: "Acme Inc." });
  const err = formError();
  const form = h("form", { class: "form-row" },
    h("div", { class: "field" }, h("label", { for: slugIn.id }, "Workspace slug"), slugIn),
    h("div", { class: "field" }, h("label", { for: nameIn.id }, "Workspace name"), nameIn),
    h("button", { class: "btn", type: "submit" }, "Create workspace"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    showError(err, null);
    const slug = slugIn.value.trim();
    if (!SLUG_RE.test(slug)) return showError(err, { message: "Slug: " + SLUG_RULES });
    try {
      const body = { slug };
      if (nameIn.value.trim()) body.name = nameIn.value.trim();
      await api.post("/api/v1/admin/workspaces", body);
      toast(`Workspace ${slug} created.`);
      await ctx.reloadWorkspaces(slug);
      ctx.rerender();
    } catch (ex) {
      showError(err, ex);
    }
  });

  const el = card("Workspace", { sub: `${info.name} · slug ${info.slug} · created ${formatTime(info.createdAt)}` },
    ingestSettingsForm(data),
    h("div", { class: "switch-row" },
      h("div", { class: "switch" }, sw, h("label", { for: id }, "Strict mode"), state),
      h("p", { class: "hint", id: id + "-d" },
        "When on, events must name a project, and events whose project or environment slug does not exist are rejected ",
        "(", h("code", {}, "unknown_project"), ", ", h("code", {}, "unknown_environment"), ") instead of being stored without attribution.")),
    h("details", { class: "more" }, h("summary", {}, "Create another workspace"),
      h("p", { class: "hint" }, "Workspaces are separate: their own projects, keys and usage. ", SLUG_RULES), form, err));
  return { el };
}

const TAG_KEY_RE = /^[a-z0-9_.-]{1,64}$/;

// The accepted event-time window and the tag keys rolled up as dimensions (issue 10).
function ingestSettingsForm(data) {
  const win = data.wsInfo.eventWindow || { backSeconds: 35 * 86400, forwardSeconds: 300 };
  const backIn = h("input", { id: uid("winback"), type: "number", min: "0.0001", max: "400", step: "any", required: true,
    value: String(win.backSeconds / 86400), "aria-describedby": "win-hint" });
  const fwdIn = h("input", { id: uid("winfwd"), type: "number", min: "0.02", max: "1440", step: "any", required: true,
    value: String(win.forwardSeconds / 60), "aria-describedby": "win-hint" });
  const dimsIn = h("input", { id: uid("tagdims"), placeholder: "team, customer_tier", spellcheck: "false", autocomplete: "off",
    value: (data.wsInfo.tagDimensions || []).join(", "), "aria-describedby": "dims-hint" });
  const err = formError();
  const form = h("form", { class: "form-row", "aria-label": "Event time and tags" },
    h("div", { class: "field" }, h("label", { for: backIn.id }, "Accept events back (days)"), backIn),
    h("div", { class: "field" }, h("label", { for: fwdIn.id }, "and ahead (minutes)"), fwdIn),
    h("div", { class: "field" }, h("label", { for: dimsIn.id }, "Tag dimensions"), dimsIn),
    h("button", { class: "btn", type: "submit" }, "Save"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    showError(err, null);
    const dims = dimsIn.value.split(",").map((d) => d.trim()).filter((d) => d !== "");
    const bad = dims.find((d) => !TAG_KEY_RE.test(d));
    if (bad !== undefined) return showError(err, { message: `“${bad}” is not a tag key: 1–64 characters of a-z, 0-9, “_”, “.” and “-”.` });
    if (dims.length > 5) return showError(err, { message: "At most 5 tag dimensions." });
    const body = {
      eventWindow: { backSeconds: Math.round(Number(backIn.value) * 86400), forwardSeconds: Math.round(Number(fwdIn.value) * 60) },
      tagDimensions: dims,
    };
    try {
      const res = await api.patch(api.wsPath(data.ws), body);
      data.wsInfo = res;
      backIn.value = String(res.eventWindow.backSeconds / 86400);
      fwdIn.value = String(res.eventWindow.forwardSeconds / 60);
      dimsIn.value = res.tagDimensions.join(", ");
      toast("Saved: events are accepted from " + backIn.value + " days back to " + fwdIn.value + " minutes ahead.");
    } catch (ex) {
      showError(err, ex);
    }
  });
  return h("div", { class: "ingest-settings" },
    h("h3", {}, "Event time and tags"),
    form, err,
    h("p", { class: "hint", id: "win-hint" },
      "An event's ", h("code", {}, "timestamp"), " must lie in this window around its arrival, or it is rejected with ",
      h("code", {}, "timestamp_out_of_range"), ". Default: 35 days back, 5 minutes ahead."),
    h("p", { class: "hint", id: "dims-hint" },
      "Up to 5 tag keys whose costs can be grouped (", h("code", {}, "groupBy=tag:team"), "). Other tags are stored and ",
      "filterable. A change applies to events written from now on; earlier events keep the dimensions they were written with."));
}

function projectsSection(data, changed) {
  const host = h("div");
  const slugIn = h("input", { id: uid("pslug"), name: "slug", required: true, maxlength: 64, placeholder: "customer-support", spellcheck: "false", autocomplete: "off", "aria-describedby": "slug-rules" });
  const nameIn = h("input", { id: uid("pname"), name: "name", placeholder: "Customer support", autocomplete: "off" });
  const err = formError();
  const btn = h("button", { class: "btn btn-primary", type: "submit" }, "Create project");
  const form = h("form", { class: "form-row", "aria-label": "New project" },
    h("div", { class: "field" }, h("label", { for: slugIn.id }, "Project slug"), slugIn),
    h("div", { class: "field" }, h("label", { for: nameIn.id }, "Project name"), nameIn),
    btn);
  slugIn.addEventListener("input", () => {
    const v = slugIn.value;
    showError(err, v && !SLUG_RE.test(v) ? { message: "Not a valid slug yet: " + SLUG_RULES } : null);
  });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const slug = slugIn.value.trim();
    if (!SLUG_RE.test(slug)) return showError(err, { message: "Slug: " + SLUG_RULES });
    showError(err, null);
    btn.disabled = true;
    try {
      const body = { slug };
      if (nameIn.value.trim()) body.name = nameIn.value.trim();
      await api.post(api.wsPath(data.ws, "/projects"), body);
      slugIn.value = "";
      nameIn.value = "";
      toast(`Project ${slug} created with environments prod, staging and dev.`);
      await changed("projects");
    } catch (ex) {
      showError(err, ex);
    } finally {
      btn.disabled = false;
    }
  });
  const draw = () => {
    if (!data.projects.length) {
      replace(host, emptyState("No projects yet", h("p", {}, "Create one per application, team or cost center. Events name it with ", h("code", {}, '"project": "<slug>"'), ".")));
      return;
    }
    replace(host, h("div", { class: "table-wrap" }, h("table", { class: "table", "aria-label": "Projects" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Slug"), h("th", { scope: "col" }, "Name"), h("th", { scope: "col" }, "Environments"), h("th", { scope: "col" }, "Created"))),
      h("tbody", {}, data.projects.map((p) => h("tr", {},
        h("td", { class: "mono strong" }, p.slug), h("td", {}, p.name),
        h("td", {}, h("span", { class: "chiplist" }, p.environments.map((e) => h("span", { class: "tag" }, e.slug)))),
        h("td", { class: "nowrap muted" }, formatTime(p.createdAt))))))));
  };
  draw();
  const el = card("Projects", { sub: "Each project is created with the environments prod, staging and dev." },
    host,
    h("h3", { class: "subhead" }, "New project"),
    form,
    h("p", { class: "hint", id: "slug-rules" }, "Slug rules: ", SLUG_RULES, " The slug is what events send; the name is for people."),
    err);
  return { el, draw };
}

function environmentsSection(data, changed) {
  const host = h("div");
  const selId = uid("envproj");
  const sel = h("select", { id: selId });
  const slugIn = h("input", { id: uid("envslug"), name: "slug", required: true, maxlength: 64, placeholder: "canary", spellcheck: "false", autocomplete: "off" });
  const err = formError();
  const btn = h("button", { class: "btn", type: "submit" }, "Add environment");
  const form = h("form", { class: "form-row", "aria-label": "New environment" },
    h("div", { class: "field" }, h("label", { for: slugIn.id }, "Environment slug"), slugIn), btn);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const project = sel.value;
    const slug = slugIn.value.trim();
    if (!project) return showError(err, { message: "Create a project first." });
    if (!SLUG_RE.test(slug)) return showError(err, { message: "Slug: " + SLUG_RULES });
    showError(err, null);
    btn.disabled = true;
    try {
      await api.post(api.wsPath(data.ws, `/projects/${encodeURIComponent(project)}/environments`), { slug });
      slugIn.value = "";
      toast(`Environment ${slug} added to ${project}.`);
      await changed("projects");
    } catch (ex) {
      showError(err, ex);
    } finally {
      btn.disabled = false;
    }
  });
  const drawList = () => {
    const p = data.projects.find((x) => x.slug === sel.value);
    if (!p) {
      replace(host, h("p", { class: "muted" }, "Create a project first."));
      return;
    }
    replace(host, h("ul", { class: "envlist", "aria-label": `Environments of ${p.slug}` },
      p.environments.map((e) => h("li", {}, h("span", { class: "tag tag-lg" }, e.slug), h("span", { class: "muted" }, "created " + formatTime(e.createdAt))))));
  };
  sel.addEventListener("change", drawList);
  const draw = () => {
    const cur = sel.value;
    replace(sel, ...data.projects.map((p) => h("option", { value: p.slug }, p.slug)));
    if (data.projects.some((p) => p.slug === cur)) sel.value = cur;
    sel.disabled = !data.projects.length;
    btn.disabled = !data.projects.length;
    drawList();
  };
  draw();
  const el = card("Environments", { sub: "Standard: prod, staging, dev. Add custom ones for canary, shadow or tenant deployments; events must match the slug exactly." },
    h("div", { class: "form-row" }, h("div", { class: "field" }, h("label", { for: selId }, "Environments of project"), sel)),
    host, h("h3", { class: "subhead" }, "Add a custom environment"), form, err);
  return { el, draw };
}

function keysSection(data, changed) {
  const listHost = h("div");
  const secretHost = h("div");
  const formHost = h("div");
  const err = formError();

  const drawForm = () => {
    const nameIn = h("input", { id: uid("kname"), name: "name", required: true, maxlength: 128, placeholder: "support-prod", autocomplete: "off" });
    const projSel = h("select", { id: uid("kproj") }, h("option", { value: "" }, "None"), data.projects.map((p) => h("option", { value: p.slug }, p.slug)));
    const envSel = h("select", { id: uid("kenv") });
    const lockSel = h("select", { id: uid("klock") });
    const fillEnvs = () => {
      const p = data.projects.find((x) => x.slug === projSel.value);
      const envs = p ? p.environments.map((e) => e.slug) : [];
      replace(envSel, h("option", { value: "" }, p ? "None" : "None (no default project)"), envs.map((e) => h("option", { value: e }, e)));
      envSel.disabled = !p;
      const all = p ? envs : [...new Set(data.projects.flatMap((x) => x.environments.map((e) => e.slug)))].sort();
      const prev = lockSel.value;
      replace(lockSel, h("option", { value: "" }, "Not locked"), all.map((e) => h("option", { value: e }, e)));
      if (all.includes(prev)) lockSel.value = prev;
    };
    projSel.addEventListener("change", fillEnvs);
    fillEnvs();
    const btn = h("button", { class: "btn btn-primary", type: "submit" }, icon("key"), "Create key");
    const form = h("form", { class: "form-grid", "aria-label": "New ingestion key" },
      h("div", { class: "field" }, h("label", { for: nameIn.id }, "Key name"), nameIn, h("small", { class: "hint" }, "Shown in listings, e.g. support-prod.")),
      h("div", { class: "field" }, h("label", { for: projSel.id }, "Default project"), projSel, h("small", { class: "hint" }, "Inherited by events without project. None: events must name one.")),
      h("div", { class: "field" }, h("label", { for: envSel.id }, "Default environment"), envSel, h("small", { class: "hint" }, "Inherited by events without environment.")),
      h("div", { class: "field" }, h("label", { for: lockSel.id }, "Lock to environment"), lockSel, h("small", { class: "hint" }, "Events naming another one are rejected.")),
      h("div", { class: "form-submit" }, btn));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const name = nameIn.value.trim();
      if (!name) return showError(err, { message: "Give the key a name." });
      showError(err, null);
      const body = { name };
      if (projSel.value) body.defaultProject = projSel.value;
      if (envSel.value) body.defaultEnvironment = envSel.value;
      if (lockSel.value) body.environment = lockSel.value;
      btn.disabled = true;
      try {
        const res = await api.post(api.wsPath(data.ws, "/keys"), body);
        nameIn.value = "";
        showSecret(res);
        await changed("keys");
      } catch (ex) {
        showError(err, ex);
      } finally {
        btn.disabled = false;
      }
    });
    replace(formHost, form);
  };

  const showSecret = (res) => {
    const id = uid("secret");
    const input = h("input", { id, class: "secret-input mono", type: "text", readonly: true, value: res.key, spellcheck: "false", autocomplete: "off" });
    input.addEventListener("focus", () => input.select());
    const box = h("div", { class: "secret", role: "region", "aria-label": "New key secret" },
      h("div", { class: "secret-head" }, h("strong", {}, `Key “${res.name}” created`), badge("shown once", "warn")),
      h("p", { class: "secret-warn" }, "Copy this key now and store it in your secret manager. It will not be shown again — costlynx keeps only a hash. Send it as the ", h("code", {}, "X-API-Key"), " header."),
      h("div", { class: "field" }, h("label", { for: id }, "Ingestion key secret"),
        h("div", { class: "secret-row" }, input, copyButton(() => input.value, "Copy key secret"))),
      h("button", { class: "btn btn-ghost btn-small", type: "button", onClick: () => { replace(secretHost); } }, "I have stored it — hide"));
    replace(secretHost, box);
    input.focus();
  };

  const drawList = () => {
    if (!data.keys.length) {
      replace(listHost, emptyState("No ingestion keys yet", h("p", {}, "Create one per environment (prod, staging, dev) so keys can be rotated independently.")));
      return;
    }
    const keys = data.keys.slice().sort((a, b) => (a.revokedAt ? 1 : 0) - (b.revokedAt ? 1 : 0) || b.createdAt.localeCompare(a.createdAt));
    replace(listHost, h("div", { class: "table-wrap" }, h("table", { class: "table", "aria-label": "Ingestion keys" },
      h("thead", {}, h("tr", {}, ["Name", "Prefix", "Default project", "Default environment", "Locked to", "Created", "Status"].map((t) => h("th", { scope: "col" }, t)), h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Actions")))),
      h("tbody", {}, keys.map((k) => h("tr", { class: k.revokedAt ? "revoked" : null },
        h("td", { class: "strong" }, k.name),
        h("td", { class: "mono" }, k.prefix + "…"),
        h("td", {}, k.defaultProject || h("span", { class: "muted" }, "—")),
        h("td", {}, k.defaultEnvironment || h("span", { class: "muted" }, "—")),
        h("td", {}, k.environment ? h("span", { class: "tag" }, k.environment) : h("span", { class: "muted" }, "any")),
        h("td", { class: "nowrap muted" }, formatTime(k.createdAt)),
        h("td", {}, k.revokedAt ? badge("revoked", "danger", "revoked " + formatTime(k.revokedAt)) : badge("active", "ok")),
        h("td", { class: "actions" }, k.revokedAt ? h("span", { class: "muted small" }, formatTime(k.revokedAt)) : revokeButton(k))))))));
  };

  const revokeButton = (k) => {
    const b = h("button", { class: "btn btn-small btn-danger-ghost", type: "button", "aria-label": `Revoke key ${k.name}` }, "Revoke");
    b.addEventListener("click", async () => {
      const ok = await confirmDialog({
        title: `Revoke key “${k.name}”?`,
        message: `Requests sending ${k.prefix}… will be refused with 401 immediately. This cannot be undone — to rotate, create the new key and deploy it first.`,
        confirmLabel: "Revoke key",
        danger: true,
      });
      if (!ok) return;
      b.disabled = true;
      try {
        await api.del(api.wsPath(data.ws, `/keys/${encodeURIComponent(k.id)}`));
        toast(`Key ${k.name} revoked.`);
        await changed("keys");
      } catch (ex) {
        b.disabled = false;
        toast("Could not revoke: " + ex.message, "error");
      }
    });
    return b;
  };

  drawForm();
  drawList();
  const el = card("Ingestion keys", { sub: "Server-side secrets sent as X-API-Key to POST /api/v1/usage/ingest. One key per environment is the recommended baseline." },
    h("h3", { class: "subhead first" }, "New key"), formHost, err, secretHost,
    h("h3", { class: "subhead" }, "Keys"), listHost);
  return { el, drawForm, drawList };
}

// ---- Pricing catalog, workspace prices, Azure deployments -----------------------------------

/** The catalog's own normalisation, roughly: drop a dated suffix (claude-3-7-sonnet-20250219). */
function normaliseModel(m) {
  return m.trim().toLowerCase().replace(/-(\d{8}|\d{4}-\d{2}-\d{2})$/, "");
}

const PRICE_RE = /^\d+(\.\d+)?$/;

async function renderPricing(ctx, tabs) {
  const ws = ctx.workspace;
  const [cat, ov, dep] = await Promise.all([
    api.get("/api/v1/pricing/models"),
    api.get(api.wsPath(ws, "/pricing/overrides")).catch((e) => ({ overrides: [], error: e })),
    api.get(api.wsPath(ws, "/pricing/deployments")).catch((e) => ({ deployments: [], error: e })),
  ]);
  if (!ctx.isCurrent()) return;
  const data = { ws, models: cat.models || [], overrides: ov.overrides || [], deployments: dep.deployments || [] };
  const providers = [...new Set(data.models.map((m) => m.provider))].sort();

  const overrides = overridesSection(data, providers, ctx.route.params.get("provider") || "");
  const deployments = deploymentsSection(data);
  const catalog = catalogSection(cat, data, providers, ctx, (model) => overrides.prefill(model));
  overrides.onChange = catalog.draw;

  const reload = h("button", { class: "btn", type: "button" }, icon("refresh"), "Reload catalog");
  reload.addEventListener("click", async () => {
    reload.disabled = true;
    try {
      const r = await api.post("/api/v1/admin/pricing/reload");
      toast(`Catalog reloaded: ${r.models} prices (${r.version}).`);
      ctx.rerender();
    } catch (ex) {
      toast("Reload refused: " + ex.message, "error");
      reload.disabled = false;
    }
  });

  replace(ctx.main,
    pageHeader("Settings", `Workspace ${ws} · pricing: catalog coverage, workspace prices and Azure deployments`, reload),
    tabs, catalog.el, overrides.el, deployments.el);
}

function catalogSection(cat, data, providers, ctx, prefillOverride) {
  const models = data.models;
  const qIn = h("input", { id: uid("q"), type: "search", placeholder: "e.g. gpt-4o-mini or claude-3-7-sonnet-20250219", value: ctx.route.params.get("q") || "", spellcheck: "false", autocomplete: "off" });
  const provSel = h("select", { id: uid("prov") }, h("option", { value: "" }, "All providers"), providers.map((p) => h("option", { value: p }, p)));
  const coverage = h("div", { class: "coverage", role: "status", "aria-live": "polite" });
  const host = h("div");
  const count = h("span", { class: "muted" });

  const draw = () => {
    const raw = qIn.value.trim();
    const q = raw.toLowerCase();
    const norm = normaliseModel(raw);
    const prov = provSel.value;
    const matches = models.filter((m) => (!prov || m.provider === prov) &&
      (!q || m.model.toLowerCase().includes(q) || m.id.toLowerCase().includes(q) || m.aliases.some((a) => a.toLowerCase().includes(q)) ||
        (norm && m.model.toLowerCase() === norm)));
    const exact = q ? models.filter((m) => (!prov || m.provider === prov) &&
      (m.model.toLowerCase() === q || m.model.toLowerCase() === norm || m.aliases.some((a) => a.toLowerCase() === q))) : [];
    const override = q ? data.overrides.find((o) => (!prov || o.provider === prov) && (o.model === q || o.model === norm)) : null;
    const deployment = q ? data.deployments.find((d) => d.deployment.toLowerCase() === q) : null;
    if (!q) {
      replace(coverage, h("span", { class: "muted" }, "Type a model name as your provider's response names it to check whether events with it will be priced."));
    } else if (override) {
      replace(coverage, h("div", { class: "callout callout-ok" }, badge("priced", "ok"), " ",
        h("strong", { class: "mono" }, raw), ` is priced by this workspace's override (${override.provider}): ${formatUsd(override.inputPerMtok)} input · ${formatUsd(override.outputPerMtok)} output per million tokens.`));
    } else if (exact.length) {
      const m = exact[exact.length - 1];
      replace(coverage, h("div", { class: "callout callout-ok" }, badge("priced", "ok"), " ",
        h("strong", { class: "mono" }, raw), ` is in the catalog as ${m.provider}/${m.model}: ${formatUsd(m.inputPerMtok)} input · ${formatUsd(m.outputPerMtok)} output per million tokens.`));
    } else if (deployment) {
      replace(coverage, h("div", { class: "callout callout-ok" }, badge("priced", "ok"), " ",
        `Azure deployment “${deployment.deployment}” is priced as ${deployment.model}.`));
    } else {
      const add = h("button", { class: "btn btn-small", type: "button", onClick: () => prefillOverride(raw) }, `Add a workspace price for “${raw}”`);
      replace(coverage, h("div", { class: "callout callout-warn coverage-miss" },
        h("span", {}, badge("not priced", "warn"), " ",
          `No catalog price for “${raw}”${matches.length ? ` (${matches.length} similar below; events must name the model exactly, dated suffixes are normalised)` : ""}. ` +
          "Events with this model are stored without a cost figure unless they carry estimatedCostUsd."), add));
    }
    count.textContent = `${formatInt(matches.length)} of ${formatInt(models.length)} prices`;
    if (!matches.length) {
      replace(host, emptyState("No matching catalog prices"));
      return;
    }
    replace(host, h("div", { class: "table-wrap table-scroll" }, h("table", { class: "table", "aria-label": "Pricing catalog" },
      h("thead", {}, h("tr", {}, ["Provider", "Model", "Effective from"].map((t) => h("th", { scope: "col" }, t)),
        ["Input", "Cached input", "Cache write", "Output"].map((t) => h("th", { scope: "col", class: "num" }, t)),
        h("th", { scope: "col" }, "Notes"), h("th", { scope: "col" }, "Checked"))),
      h("tbody", {}, matches.map((m) => h("tr", {},
        h("td", {}, m.provider),
        h("td", { class: "mono" }, m.model, m.aliases.length ? h("span", { class: "cell-sub" }, "aka " + m.aliases.join(", ")) : null),
        h("td", { class: "nowrap" }, m.effectiveFrom),
        h("td", { class: "num" }, price(m.inputPerMtok)),
        h("td", { class: "num" }, price(m.cachedInputPerMtok)),
        h("td", { class: "num" }, price(m.cacheWritePerMtok)),
        h("td", { class: "num" }, price(m.outputPerMtok)),
        h("td", { class: "small muted" },
          m.batchDiscountPct ? h("span", { class: "nowrap" }, `batch −${m.batchDiscountPct}%`) : null,
          m.above200kTokens ? h("span", { class: "cell-sub nowrap", title: `above 200k input tokens: ${formatUsd(m.above200kTokens.inputPerMtok)} in · ${formatUsd(m.above200kTokens.outputPerMtok)} out` }, ">200k tier") : null),
        h("td", { class: "nowrap muted" }, m.source ? h("a", { href: m.source, target: "_blank", rel: "noopener noreferrer", title: m.source }, m.checked || "source") : m.checked || "—")))))));
  };
  qIn.addEventListener("input", () => {
    draw();
    history.replaceState(null, "", "#/settings/pricing" + (qIn.value.trim() ? "?q=" + encodeURIComponent(qIn.value.trim()) : ""));
  });
  provSel.addEventListener("change", draw);
  draw();

  const el = card("Pricing catalog", { sub: `Version ${cat.version} · ${formatInt(models.length)} prices · ${cat.unit}. Reloading applies to new events only; stored costs never change.` },
    h("div", { class: "form-row" },
      h("div", { class: "field grow" }, h("label", { for: qIn.id }, "Search models"), qIn),
      h("div", { class: "field" }, h("label", { for: provSel.id }, "Provider"), provSel),
      h("div", { class: "field-note" }, count)),
    coverage, host);
  return { el, draw };
}

function overridesSection(data, providers, presetProvider) {
  const section = { onChange: () => {} };
  const listHost = h("div");
  const err = formError();
  const mk = (label, props) => {
    const input = h("input", { id: uid("ov"), type: "text", autocomplete: "off", spellcheck: "false", ...props });
    return { input, wrap: h("div", { class: "field" }, h("label", { for: input.id }, label), input) };
  };
  const listId = uid("providers");
  const provider = mk("Price provider", { required: true, list: listId, placeholder: "openai", value: presetProvider });
  const model = mk("Price model", { required: true, placeholder: "gpt-4o" });
  const input = mk("Input $/Mtok", { required: true, inputmode: "decimal", placeholder: "1.25" });
  const output = mk("Output $/Mtok", { required: true, inputmode: "decimal", placeholder: "5" });
  const cached = mk("Cached input $/Mtok", { inputmode: "decimal", placeholder: "optional" });
  const write = mk("Cache write $/Mtok", { inputmode: "decimal", placeholder: "optional" });
  const note = mk("Note", { placeholder: "contract 2026" });
  const btn = h("button", { class: "btn btn-primary", type: "submit" }, "Save price");
  const form = h("form", { class: "form-grid form-grid-prices", "aria-label": "Workspace price" },
    h("datalist", { id: listId }, providers.map((p) => h("option", { value: p }))),
    provider.wrap, model.wrap, input.wrap, output.wrap, cached.wrap, write.wrap, note.wrap, h("div", { class: "form-submit" }, btn));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { provider: provider.input.value.trim(), model: model.input.value.trim(), inputPerMtok: input.input.value.trim(), outputPerMtok: output.input.value.trim() };
    if (!body.provider || !body.model) return showError(err, { message: "Provider and model are required." });
    for (const [k, f] of [["inputPerMtok", input], ["outputPerMtok", output], ["cachedInputPerMtok", cached], ["cacheWritePerMtok", write]]) {
      const v = f.input.value.trim();
      if (!v && (k === "inputPerMtok" || k === "outputPerMtok")) return showError(err, { message: "Input and output prices are required (US dollars per million tokens)." });
      if (v && !PRICE_RE.test(v)) return showError(err, { message: `${f.wrap.firstChild.textContent}: a non-negative decimal number, e.g. 1.25` });
      if (v) body[k] = v;
    }
    if (note.input.value.trim()) body.note = note.input.value.trim();
    showError(err, null);
    btn.disabled = true;
    try {
      const o = await api.post(api.wsPath(data.ws, "/pricing/overrides"), body);
      data.overrides = (await api.get(api.wsPath(data.ws, "/pricing/overrides"))).overrides || [];
      for (const f of [model, input, output, cached, write, note]) f.input.value = "";
      toast(`Price saved for ${o.provider}/${o.model}: new events are priced with it.`);
      drawList();
      section.onChange();
    } catch (ex) {
      showError(err, ex);
    } finally {
      btn.disabled = false;
    }
  });
  const drawList = () => {
    if (!data.overrides.length) {
      replace(listHost, h("p", { class: "muted" }, "No workspace prices: every event is priced from the catalog (or its estimatedCostUsd)."));
      return;
    }
    replace(listHost, h("div", { class: "table-wrap" }, h("table", { class: "table", "aria-label": "Workspace prices" },
      h("thead", {}, h("tr", {}, ["Provider", "Model"].map((t) => h("th", { scope: "col" }, t)),
        ["Input", "Cached input", "Cache write", "Output"].map((t) => h("th", { scope: "col", class: "num" }, t)),
        ["Note", "Created"].map((t) => h("th", { scope: "col" }, t)), h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Actions")))),
      h("tbody", {}, data.overrides.map((o) => h("tr", {},
        h("td", {}, o.provider), h("td", { class: "mono" }, o.model),
        h("td", { class: "num" }, price(o.inputPerMtok)), h("td", { class: "num" }, price(o.cachedInputPerMtok)),
        h("td", { class: "num" }, price(o.cacheWritePerMtok)), h("td", { class: "num" }, price(o.outputPerMtok)),
        h("td", {}, o.note || h("span", { class: "muted" }, "—")), h("td", { class: "nowrap muted" }, formatTime(o.createdAt)),
        h("td", { class: "actions" }, deleteButton(`Delete price ${o.provider}/${o.model}`, "Delete", {
          title: `Delete the workspace price for ${o.provider}/${o.model}?`,
          message: "New events with this model go back to the catalog price (or none). Stored costs do not change.",
        }, async () => {
          await api.del(api.wsPath(data.ws, `/pricing/overrides?provider=${encodeURIComponent(o.provider)}&model=${encodeURIComponent(o.model)}`));
          data.overrides = data.overrides.filter((x) => x !== o);
          toast(`Price for ${o.provider}/${o.model} deleted.`);
          drawList();
          section.onChange();
        }))))))));
  };
  drawList();
  section.prefill = (m) => {
    model.input.value = m;
    section.el.scrollIntoView({ block: "start" });
    (provider.input.value ? input.input : provider.input).focus();
  };
  section.el = card("Workspace prices", { sub: "Negotiated or custom prices (USD per million tokens). They win over the catalog for this workspace's new events; stored costs never change. Use one for a model the catalog lacks." },
    listHost, h("h3", { class: "subhead" }, "Set a price"), form, err);
  return section;
}

function deploymentsSection(data) {
  const listHost = h("div");
  const err = formError();
  const listId = uid("models");
  const depIn = h("input", { id: uid("dep"), required: true, placeholder: "prod-chat", autocomplete: "off", spellcheck: "false" });
  const modelIn = h("input", { id: uid("depm"), required: true, placeholder: "gpt-4o-mini", list: listId, autocomplete: "off", spellcheck: "false" });
  const btn = h("button", { class: "btn", type: "submit" }, "Map deployment");
  const form = h("form", { class: "form-row", "aria-label": "Azure deployment mapping" },
    h("datalist", { id: listId }, [...new Set(data.models.filter((m) => m.provider === "azure" || m.provider === "openai").map((m) => m.model))].map((m) => h("option", { value: m }))),
    h("div", { class: "field" }, h("label", { for: depIn.id }, "Deployment name"), depIn),
    h("div", { class: "field" }, h("label", { for: modelIn.id }, "Priced as model"), modelIn), btn);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { deployment: depIn.value.trim(), model: modelIn.value.trim() };
    if (!body.deployment || !body.model) return showError(err, { message: "Name the deployment and the catalog model." });
    showError(err, null);
    btn.disabled = true;
    try {
      await api.post(api.wsPath(data.ws, "/pricing/deployments"), body);
      data.deployments = (await api.get(api.wsPath(data.ws, "/pricing/deployments"))).deployments || [];
      depIn.value = "";
      modelIn.value = "";
      toast(`Deployment ${body.deployment} is priced as ${body.model}.`);
      drawList();
    } catch (ex) {
      showError(err, ex);
    } finally {
      btn.disabled = false;
    }
  });
  const drawList = () => {
    if (!data.deployments.length) {
      replace(listHost, h("p", { class: "muted" }, "No mappings. Azure OpenAI events name the deployment as model; map it to the catalog model it runs."));
      return;
    }
    replace(listHost, h("div", { class: "table-wrap" }, h("table", { class: "table", "aria-label": "Azure deployments" },
      h("thead", {}, h("tr", {}, ["Deployment", "Priced as", "Created"].map((t) => h("th", { scope: "col" }, t)), h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Actions")))),
      h("tbody", {}, data.deployments.map((d) => h("tr", {},
        h("td", { class: "mono" }, d.deployment), h("td", { class: "mono" }, d.model), h("td", { class: "nowrap muted" }, formatTime(d.createdAt)),
        h("td", { class: "actions" }, deleteButton(`Remove deployment ${d.deployment}`, "Remove", {
          title: `Remove the mapping of “${d.deployment}”?`,
          message: "New Azure events naming this deployment are then looked up by that name only.",
        }, async () => {
          await api.del(api.wsPath(data.ws, `/pricing/deployments?deployment=${encodeURIComponent(d.deployment)}`));
          data.deployments = data.deployments.filter((x) => x !== d);
          toast(`Mapping of ${d.deployment} removed.`);
          drawList();
        }))))))));
  };
  drawList();
  return { el: card("Azure OpenAI deployments", { sub: "Azure events carry the deployment name as model; a mapping prices it as a catalog model." }, listHost, form, err) };
}

function deleteButton(ariaLabel, text, dialog, action) {
  const b = h("button", { class: "btn btn-small btn-danger-ghost", type: "button", "aria-label": ariaLabel }, text);
  b.addEventListener("click", async () => {
    if (!(await confirmDialog({ ...dialog, confirmLabel: text, danger: true }))) return;
    b.disabled = true;
    try {
      await action();
    } catch (ex) {
      b.disabled = false;
      toast(ex.message, "error");
    }
  });
  return b;
}

function price(v) {
  return v === null || v === undefined ? h("span", { class: "muted" }, "—") : formatUsd(v);
}
