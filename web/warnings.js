// Warnings: events without a cost figure, unknown project / environment slugs, unattributed events.
import { h, replace, uid } from "./dom.js";
import * as api from "./api.js";
import { formatInt, formatTime, formatUsd, formatUsdExact } from "./format.js";
import { rangeQuery } from "./state.js";
import { pageHeader, card, statCard, rangeControl, rangeSubtitle, emptyState, badge, toast } from "./ui.js";

export async function render(ctx) {
  const { main, workspace } = ctx;
  const w = await api.get(api.wsPath(workspace, "/usage/warnings"), rangeQuery());
  if (!ctx.isCurrent()) return;
  const total = w.unpriced.events + w.unknownProjects.events + w.unknownEnvironments.events + w.unattributed.events;
  ctx.setWarningCount(total);

  const header = pageHeader("Warnings", rangeSubtitle("What needs attention"), rangeControl(() => ctx.rerender()));
  const stats = h("div", { class: "stats stats-4" },
    statCard("Unpriced events", formatInt(w.unpriced.events), `${w.unpriced.items.length} model${w.unpriced.items.length === 1 ? "" : "s"}`, { kind: w.unpriced.events ? "warn" : "ok", id: "unpriced" }),
    statCard("Unknown projects", formatInt(w.unknownProjects.events), `${w.unknownProjects.items.length} slug${w.unknownProjects.items.length === 1 ? "" : "s"}`, { kind: w.unknownProjects.events ? "warn" : "ok", id: "unknown-projects" }),
    statCard("Unknown environments", formatInt(w.unknownEnvironments.events), `${w.unknownEnvironments.items.length} slug${w.unknownEnvironments.items.length === 1 ? "" : "s"}`, { kind: w.unknownEnvironments.events ? "warn" : "ok", id: "unknown-environments" }),
    statCard("Unattributed events", formatInt(w.unattributed.events), "no project", { kind: w.unattributed.events ? "warn" : "ok", id: "unattributed" }));

  const spell = spellingsCard(ctx, w);
  if (!total) {
    replace(main, header, stats, card(null, {}, emptyState("All clear",
      h("p", {}, "Every event in this range has a cost figure and a known project and environment."))), spell);
    return;
  }

  const seen = (it) => [h("td", { class: "nowrap" }, formatTime(it.firstSeen)), h("td", { class: "nowrap" }, formatTime(it.lastSeen))];
  const seenHead = () => [h("th", { scope: "col" }, "First seen"), h("th", { scope: "col" }, "Last seen")];

  const unpriced = card("Events without a cost figure", {
    sub: "No catalog price for these models and the events carried no estimatedCostUsd, so they were stored with no cost and count as $0 in Costs.",
  },
  w.unpriced.items.length
    ? [
      h("div", { class: "callout callout-warn" },
        h("strong", {}, "How to fix: "),
        "add ", h("code", {}, "estimatedCostUsd"), " (the caller's cost) to these events, or add a catalog price for the model — a ",
        h("a", { href: "#/settings/pricing" }, "workspace price"), " in Settings → Pricing, or a line in the ", h("code", {}, "--catalog"),
        " CSV, then reload. New events get priced; stored events keep their missing cost."),
      tableOf("Unpriced models", [h("th", { scope: "col" }, "Provider"), h("th", { scope: "col" }, "Model"), h("th", { scope: "col", class: "num" }, "Events"), ...seenHead(), h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Actions"))],
        w.unpriced.items.map((it) => h("tr", {},
          h("td", {}, it.provider), h("td", { class: "mono" }, it.model, " ", badge("unpriced", "warn")), h("td", { class: "num" }, formatInt(it.events)), ...seen(it),
          h("td", { class: "actions" }, h("a", { class: "btn btn-small", href: `#/settings/pricing?q=${encodeURIComponent(it.model)}&provider=${encodeURIComponent(it.provider)}`, "aria-label": `Check pricing for ${it.model}` }, "Check pricing"),
            " ", h("button", { class: "btn btn-small", type: "button", "aria-label": `Reprice ${it.model}`, onClick: () => repriceDialog(ctx, it) }, "Reprice…"))))),
    ]
    : okLine("Every event has a cost figure."));

  const unknownProjects = card("Unknown project slugs", {
    sub: "Events named a project that does not exist in this workspace; they were stored without project attribution.",
  },
  w.unknownProjects.items.length
    ? [
      h("div", { class: "callout" }, "Fix the slug in the event payload, or create the project in Settings → Configure so that new events are attributed. ",
        "Events already stored stay unattributed. Strict mode rejects unknown slugs instead."),
      tableOf("Unknown projects", [h("th", { scope: "col" }, "Project as sent"), h("th", { scope: "col", class: "num" }, "Events"), ...seenHead(), h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Actions"))],
        w.unknownProjects.items.map((it) => h("tr", {},
          h("td", { class: "mono" }, it.project), h("td", { class: "num" }, formatInt(it.events)), ...seen(it),
          h("td", { class: "actions" }, createProjectButton(ctx, it.project))))),
    ]
    : okLine("Every project slug was known."));

  const unknownEnvs = card("Unknown environment slugs", {
    sub: "The project exists but not this environment; the events were stored without environment attribution.",
  },
  w.unknownEnvironments.items.length
    ? tableOf("Unknown environments", [h("th", { scope: "col" }, "Project"), h("th", { scope: "col" }, "Environment as sent"), h("th", { scope: "col", class: "num" }, "Events"), ...seenHead()],
      w.unknownEnvironments.items.map((it) => h("tr", {},
        h("td", { class: "mono" }, it.project || "—"), h("td", { class: "mono" }, it.environment), h("td", { class: "num" }, formatInt(it.events)), ...seen(it))))
    : okLine("Every environment slug was known."));

  const unattributed = card("Unattributed events", {
    sub: "Events without a project: none was given (or it was unknown) and the ingestion key has no default project. Set a default project on the key, or send project in every event.",
  },
  w.unattributed.items.length
    ? tableOf("Unattributed events by model", [h("th", { scope: "col" }, "Provider"), h("th", { scope: "col" }, "Model"), h("th", { scope: "col", class: "num" }, "Events"), ...seenHead()],
      w.unattributed.items.map((it) => h("tr", {},
        h("td", {}, it.provider), h("td", { class: "mono" }, it.model), h("td", { class: "num" }, formatInt(it.events)), ...seen(it))))
    : okLine("Every event has a project."));

  const lockedItems = (w.lockedEnvironment && w.lockedEnvironment.items) || [];
  const locked = card("Keys used against a locked environment", {
    sub: "These events were refused (environment_not_allowed): the ingestion key is locked to another environment. Use the environment's own key, or fix the environment the caller sends.",
  },
  lockedItems.length
    ? tableOf("Refused by an environment lock", [h("th", { scope: "col" }, "Key id"), h("th", { scope: "col" }, "Environment sent"), h("th", { scope: "col" }, "Locked to"), h("th", { scope: "col", class: "num" }, "Events"), ...seenHead()],
      lockedItems.map((it) => h("tr", {},
        h("td", { class: "mono" }, it.keyId), h("td", { class: "mono" }, it.environment || "—"), h("td", { class: "mono" }, it.lockedTo), h("td", { class: "num" }, formatInt(it.events)), ...seen(it))))
    : okLine("No event was refused by an environment lock."));

  replace(main, header, stats, unpriced, unknownProjects, unknownEnvs, unattributed, locked, spell);
}

/* Feature labels that are spellings of one (issue 12), with a button declaring the alias. */
function spellingsCard(ctx, w) {
  const groups = (w.spellings && w.spellings.groups) || [];
  if (!groups.length) return card("Feature spellings", {}, okLine("No feature is spelled in several ways."));
  return card("Feature spellings", {
    sub: "Labels that differ only by case, separators, a plural or one letter split one feature's cost. Fold a spelling into the suggested one: queries group them from then on; stored events keep what was sent.",
  },
  groups.map((g) => {
    const tag = g.kind === "tag value";
    return h("div", { class: "spelling-group" },
      h("p", { class: "callout callout-warn" }, g.warning),
      tableOf(tag ? `Spellings of tag ${g.tag}` : `Spellings in ${g.project || "(unattributed)"}`,
        [h("th", { scope: "col" }, tag ? "Tag" : "Project"), h("th", { scope: "col" }, tag ? "Value as sent" : "Feature as sent"), h("th", { scope: "col", class: "num" }, "Events"), h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Actions"))],
        g.labels.map((l) => h("tr", {},
          h("td", { class: "mono" }, tag ? g.tag : g.project || "—"), h("td", { class: "mono" }, l.label, l.label === g.suggested ? [" ", badge("suggested", "ok")] : null),
          h("td", { class: "num" }, formatInt(l.events)),
          h("td", { class: "actions" }, l.label === g.suggested || tag || !g.project ? null : foldButton(ctx, g.project, l.label, g.suggested))))));
  }));
}

function foldButton(ctx, project, alias, canonical) {
  const b = h("button", { class: "btn btn-small", type: "button", "aria-label": `Fold ${alias} into ${canonical}` }, `Fold into ${canonical}`);
  b.addEventListener("click", async () => {
    b.disabled = true;
    try {
      await api.post(api.wsPath(ctx.workspace, "/aliases"), { project, alias, canonical });
      toast(`${alias} is now counted as ${canonical}`);
      ctx.rerender();
    } catch (ex) {
      toast("Could not declare the alias: " + ex.message, "error");
      b.disabled = false;
    }
  });
  return b;
}

function okLine(text) {
  return h("p", { class: "ok-line" }, badge("ok", "ok"), " ", text);
}

function tableOf(label, head, rows) {
  return h("div", { class: "table-wrap" }, h("table", { class: "table", "aria-label": label }, h("thead", {}, h("tr", {}, head)), h("tbody", {}, rows)));
}

function createProjectButton(ctx, slug) {
  const valid = /^[a-z0-9][a-z0-9_-]{0,63}$/.test(slug);
  if (!valid) return h("span", { class: "muted", title: "Not a valid slug: fix it in the event payload" }, "invalid slug");
  const b = h("button", { class: "btn btn-small", type: "button", "aria-label": `Create project ${slug}` }, "Create project");
  b.addEventListener("click", async () => {
    b.disabled = true;
    try {
      await api.post(api.wsPath(ctx.workspace, "/projects"), { slug, name: slug });
      toast(`Project ${slug} created — new events naming it will be attributed.`);
      b.textContent = "Created";
    } catch (err) {
      b.disabled = false;
      toast(err.message, "error");
    }
  });
  return b;
}

/*
 * Reprice the stored events of an unpriced model once it has a price (a workspace price, or a
 * catalog line after a reload): a dry run first (POST .../usage/reprice), then Apply.
 */
function repriceDialog(ctx, it) {
  const titleId = uid("rp");
  const body = h("p", { role: "status" }, "Checking what today's prices would change…");
  const apply = h("button", { class: "btn btn-primary", type: "button", disabled: true }, "Apply");
  const dlg = h("dialog", { class: "dialog", "aria-labelledby": titleId },
    h("h2", { id: titleId }, "Reprice ", h("span", { class: "mono" }, it.model)), body,
    h("div", { class: "dialog-actions" }, h("button", { class: "btn", type: "button", onClick: () => dlg.close() }, "Close"), apply));
  dlg.addEventListener("close", () => dlg.remove());
  document.body.append(dlg);
  dlg.showModal();
  const q = { ...rangeQuery(), provider: it.provider, model: it.model };
  const run = async (dryRun) => {
    let job = await api.post(api.wsPath(ctx.workspace, "/usage/reprice"), { ...q, dryRun });
    while (job.status === "running") {
      body.textContent = `Scanned ${formatInt(job.scanned)} events…`;
      await new Promise((r) => setTimeout(r, 500));
      job = await api.get(api.wsPath(ctx.workspace, `/usage/jobs/${encodeURIComponent(job.jobId)}`));
    }
    return job;
  };
  (async () => {
    try {
      const dry = await run(true);
      if (!dry.changed) {
        body.textContent = "Nothing would change: the model still has no price. Add one in Settings → Pricing first.";
        return;
      }
      body.textContent = `${formatInt(dry.changed)} event${dry.changed === 1 ? "" : "s"} would be priced: ${formatUsd(dry.oldCostUsd)} → ${formatUsd(dry.newCostUsd)} (${formatUsdExact(dry.newCostUsd)}). Each gets a new version; the old one stays in its history.`;
      apply.disabled = false;
      apply.addEventListener("click", async () => {
        apply.disabled = true;
        try {
          const done = await run(false);
          toast(`Repriced ${formatInt(done.applied)} event${done.applied === 1 ? "" : "s"}`);
          dlg.close();
          ctx.rerender();
        } catch (err) {
          body.textContent = err.message;
        }
      }, { once: true });
    } catch (err) {
      body.textContent = err.message;
    }
  })();
}
