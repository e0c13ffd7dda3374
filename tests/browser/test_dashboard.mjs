// The dashboard in a real browser (Debian's Chromium driven by playwright-core) against the real
// costlynxd: sign in, Overview, Costs, Warnings, Settings (create a key, use its secret to ingest).
// Screenshots of each page (1280×800) go to docs/screenshots/. Run: ./run.sh (or `node --test`).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";
import { startServer, SOURCE_DIR } from "./server.mjs";
import { decodePng } from "./png.mjs";
import { createServer } from "node:http";
import { createHmac } from "node:crypto";

const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const SHOTS = process.env.CLX_SCREENSHOT_DIR || path.join(SOURCE_DIR, "docs", "screenshots");
const UNPRICED_MODEL = "mystery-model-x1";
const RUN = Date.now().toString(36);

let srv;
let context;
let page;
let profileDir;
let key; // an ingestion key made through the REST API (default project customer-support, prod)
const pageErrors = [];

const ev = (id, fields) => ({ provider: "openai", model: "gpt-4.1", inputTokens: 1000, outputTokens: 200, requestId: `${RUN}-${id}`, ...fields });

before(async () => {
  assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM)`);
  srv = await startServer(["--webhook-allow", "loopback"]); // the Alerts test's receiver is on loopback

  // --- data, prepared through the REST API ---
  const A = "/api/v1/admin/workspaces/default";
  for (const [slug, name] of [["customer-support", "Customer support"], ["document-processing", "Document processing"]]) {
    const r = await srv.call("POST", `${A}/projects`, { body: { slug, name } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
  }
  const k = await srv.call("POST", `${A}/keys`, { body: { name: "support-prod", defaultProject: "customer-support", defaultEnvironment: "prod" } });
  assert.equal(k.status, 201, JSON.stringify(k.body));
  key = k.body.key;
  // exact caller costs, so the page's amounts are known to the digit:
  //   customer-support · chat 1.5 (+ one unpriced event), document-processing · contract-analysis 0.25,
  //   customer-support · ticket-classifier 0.0123 + 0.0002, (unattributed) · chat 0.006 → total 1.7685
  // issue 10: team is a declared tag dimension; event 1 happened a day before it was sent
  const w = await srv.call("PATCH", A, { body: { tagDimensions: ["team"] } });
  assert.equal(w.status, 200, JSON.stringify(w.body));
  const dayAgo = new Date(Date.now() - 86400e3).toISOString();
  const events = [
    ev("1", { project: "customer-support", environment: "prod", feature: "ticket-classifier", estimatedCostUsd: 0.0123, timestamp: dayAgo }),
    ev("2", { project: "customer-support", environment: "prod", feature: "chat", estimatedCostUsd: 1.5 }),
    ev("3", { project: "document-processing", environment: "prod", feature: "contract-analysis", estimatedCostUsd: 0.25 }),
    ev("4", { project: "nope-unknown", feature: "chat", estimatedCostUsd: 0.006 }),
    ev("5", { model: UNPRICED_MODEL, project: "customer-support", environment: "prod", feature: "chat" }),
    // the newest: what Overview must show with its attribution
    ev("6", { model: "gpt-4o-mini", inputTokens: 850, outputTokens: 320, project: "customer-support", environment: "staging", feature: "ticket-classifier", estimatedCostUsd: 0.0002, userId: "cust-42", tags: { team: "support", trace: "t-1" } }),
  ];
  for (const e of events) { // one by one, so "newest first" is well defined
    const r = await srv.call("POST", "/api/v1/usage/ingest", { key, body: e });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.inserted, 1, JSON.stringify(r.body));
  }

  // --- the browser: a fresh profile each run ---
  profileDir = mkdtempSync(path.join(tmpdir(), "clx-chromium-"));
  context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    viewport: { width: 1280, height: 800 },
    deviceScaleFactor: 1,
    timezoneId: "UTC",
    locale: "en-US",
  });
  context.setDefaultTimeout(10000);
  page = context.pages()[0] || (await context.newPage());
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error") pageErrors.push(m.text()); });
  mkdirSync(SHOTS, { recursive: true });
});

after(async () => {
  if (context) await context.close();
  if (profileDir) rmSync(profileDir, { recursive: true, force: true });
  if (srv) await srv.stop();
});

async function shot(name) {
  await page.mouse.move(0, 799); // no hover effects in the picture
  await page.evaluate(() => {
    const a = document.activeElement;
    if (a && a.setSelectionRange && a.type === "text") a.setSelectionRange(0, 0);
    if (a) a.blur();
    for (const t of document.querySelectorAll(".toast")) t.remove();
  });
  await page.screenshot({ path: path.join(SHOTS, name + ".png") });
}

const row = (table, ...texts) => {
  let r = table.locator("tbody tr");
  for (const t of texts) r = r.filter({ has: page.getByRole("cell", { name: t, exact: true }) });
  return r;
};

test("sign-in refuses a wrong token and accepts the admin token", async () => {
  await page.goto(srv.url + "/");
  await page.getByLabel("Admin token").fill("not-the-token");
  await page.getByRole("button", { name: "Sign in" }).click();
  await assertVisibleText(page.getByRole("alert"), /not accepted/);
  await page.getByLabel("Admin token").fill(srv.token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Overview", level: 1 }).waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem("costlynx.adminToken")), srv.token);
  assert.equal(await page.getByLabel("Workspace").inputValue(), "default");
  pageErrors.length = 0; // Chromium logs the expected 401 of the wrong token
});

test("Overview shows totals and the newest event with its attribution", async () => {
  const table = page.getByRole("table", { name: "Latest events" });
  await table.waitFor();
  const newest = table.locator("tbody tr").first();
  // each cell's first line (a second line holds details such as "320 out" or "caller")
  const cells = (await newest.locator("td").allInnerTexts()).map((c) => c.split("\n")[0].trim());
  assert.match(await newest.innerText(), /gpt-4o-mini\s+openai/, "model with its provider");
  for (const text of ["gpt-4o-mini", "customer-support", "staging", "ticket-classifier", "850 / 320", "$0.0002"]) {
    assert.ok(cells.includes(text), `newest event row lacks "${text}": ${JSON.stringify(cells)}`);
  }
  assert.ok(cells.includes("cust-42"), `newest event row lacks its user: ${JSON.stringify(cells)}`);
  assert.equal(await table.getByRole("columnheader", { name: "Time (UTC)" }).count(), 1);
  // listed by event time: the backdated event 1 comes last, its arrival on hover
  const oldest = table.locator("tbody tr").last();
  assert.match(await oldest.innerText(), /\$0\.0123/);
  assert.match(await oldest.locator("td").first().getAttribute("title"), /^event time [\s\S]*\nreceived /);
    // the unknown slug is shown as unattributed, the unpriced event flagged
  assert.match(await table.innerText(), /\(unattributed\)/);
  assert.match(await table.innerText(), /unpriced/);
  assert.equal((await page.locator('[data-stat="spend"]').innerText()).trim(), "$1.77");
  assert.equal((await page.locator('[data-stat="events"]').innerText()).trim(), "6");
  assert.ok(await page.getByRole("img", { name: /per (hour|day)/ }).count() === 1, "the time-series chart is drawn");
  await shot("overview");
});

test("Costs shows spend by project and feature with exact amounts", async () => {
  await page.getByRole("link", { name: "Costs" }).click();
  const table = page.getByRole("table", { name: "Spend breakdown" });
  await table.waitFor();
  const expect = [
    [["customer-support", "chat"], "$1.50"],
    [["document-processing", "contract-analysis"], "$0.25"],
    [["customer-support", "ticket-classifier"], "$0.0125"],
    [["(unattributed)", "chat"], "$0.006"],
  ];
  for (const [keys, amount] of expect) {
    const r = row(table, ...keys);
    assert.equal(await r.count(), 1, `one row for ${keys.join(" · ")}`);
    assert.equal(await r.getByRole("cell", { name: amount, exact: true }).count(), 1, `${keys.join(" · ")} costs ${amount}: ${await r.innerText()}`);
  }
  assert.equal(await table.locator("tbody tr").count(), 4);
  assert.match(await table.locator("tfoot").innerText(), /\$1\.77/);
  assert.equal((await page.locator('[data-stat="total-cost"]').innerText()).trim(), "$1.77");
  assert.equal(await page.getByRole("img", { name: /Spend by project and feature/ }).count(), 1, "bar chart");
  await shot("costs");

  // group by project only: customer-support = 1.5 + 0.0123 + 0.0002 = 1.5125
  await page.getByRole("checkbox", { name: "Feature" }).uncheck();
  await page.waitForFunction(() => location.hash.includes("groupBy=project") && !location.hash.includes("feature"));
  await row(table, "customer-support").getByRole("cell", { name: "$1.51", exact: true }).waitFor();
  // filter: the unattributed project only
  await page.getByRole("form", { name: "Filters" }).getByLabel("Project").selectOption({ label: "(unattributed)" });
  await page.getByRole("button", { name: "Apply filters" }).click();
  await page.waitForFunction(() => /[?&]project=(&|$)/.test(location.hash));
  await table.locator("tbody tr").first().waitFor();
  await page.waitForFunction(() => document.querySelectorAll('table[aria-label="Spend breakdown"] tbody tr').length === 1);
  assert.match(await table.innerText(), /\(unattributed\)[\s\S]*\$0\.006/);
  await page.getByRole("button", { name: "Clear", exact: true }).click();
});

test("Costs shows the top end users and the values of a declared tag", async () => {
  await page.getByRole("link", { name: "Costs" }).click();
  const table = page.getByRole("table", { name: "Spend breakdown" });
  await table.waitFor();
  await page.getByRole("checkbox", { name: "End user" }).check();
  await page.waitForFunction(() => location.hash.includes("groupBy=user"));
  await row(table, "cust-42").getByRole("cell", { name: "$0.0002", exact: true }).waitFor();
  assert.equal(await table.locator("tbody tr").count(), 1, "only event 6 has a user");
  assert.equal(await page.getByRole("columnheader", { name: "End user" }).count(), 1);
  assert.ok(await page.getByRole("form", { name: "Filters" }).getByLabel("Project").isDisabled(), "no filters for top users");
  await page.getByRole("checkbox", { name: "Tag team" }).check();
  await page.waitForFunction(() => location.hash.includes("groupBy=tag%3Ateam") || location.hash.includes("groupBy=tag:team"));
  await row(table, "support").getByRole("cell", { name: "$0.0002", exact: true }).waitFor();
  assert.equal(await page.getByRole("checkbox", { name: "Tag trace" }).count(), 0, "undeclared tags are not offered");
  await shot("costs-top-users");
  await page.getByRole("checkbox", { name: "Tag team" }).uncheck();
  await page.waitForFunction(() => location.hash.includes("groupBy=project"));
});

test("Warnings lists the unpriced model with the fix", async () => {
  await page.getByRole("link", { name: /^Warnings/ }).click();
  const table = page.getByRole("table", { name: "Unpriced models" });
  await table.waitFor();
  const r = row(table, "openai");
  assert.match(await r.innerText(), new RegExp(UNPRICED_MODEL));
  assert.equal(await r.getByRole("cell", { name: "1", exact: true }).count(), 1, "one event");
  assert.match(await page.locator("main").innerText(), /estimatedCostUsd/);
  assert.match(await page.getByRole("table", { name: "Unknown projects" }).innerText(), /nope-unknown/);
  await shot("warnings");
});

test("Settings creates a key whose secret, shown once, ingests", async () => {
  await page.getByRole("link", { name: "Settings" }).click();
  await page.getByRole("heading", { name: "Ingestion keys" }).waitFor();

  // a project through the form; an invalid slug first shows the rules
  await page.getByLabel("Project slug").fill("Web Created");
  await assertVisibleText(page.getByRole("alert").filter({ hasText: "slug" }), /lowercase/);
  await page.getByLabel("Project slug").fill("web-created");
  await page.getByLabel("Project name").fill("Web created");
  await page.getByRole("button", { name: "Create project" }).click();
  await row(page.getByRole("table", { name: "Projects" }), "web-created").waitFor();

  // the key
  await page.getByLabel("Key name").fill("browser-test");
  await page.getByLabel("Default project").selectOption("customer-support");
  await page.getByLabel("Default environment").selectOption("dev");
  await page.getByRole("button", { name: "Create key" }).click();
  const secretBox = page.getByLabel("Ingestion key secret");
  await secretBox.waitFor();
  const secret = await secretBox.inputValue();
  assert.match(secret, /^clx_\S{16,}$/);
  assert.match(await page.getByRole("region", { name: "New key secret" }).innerText(), /not be shown again/);
  const keys = page.getByRole("table", { name: "Ingestion keys" });
  const keyRow = row(keys, "browser-test");
  await keyRow.waitFor();
  assert.match(await keyRow.innerText(), new RegExp(secret.slice(0, 8).replace(/[^\w]/g, "\\$&") + "…"));
  assert.ok(!(await keys.innerText()).includes(secret), "the list shows the prefix only");
  await shot("settings");

  // the secret from the page ingests (default project/environment from the key)
  const rid = `${RUN}-from-settings`;
  const r = await srv.call("POST", "/api/v1/usage/ingest", { key: secret, body: { provider: "openai", model: "gpt-4o-mini", inputTokens: 10, outputTokens: 5, requestId: rid } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.inserted, 1);
  const back = await srv.call("GET", `/api/v1/admin/workspaces/default/usage/events?requestId=${rid}`);
  assert.equal(back.body.events[0].project, "customer-support");
  assert.equal(back.body.events[0].environment, "dev");

  // hidden for good after leaving the page
  await page.getByRole("button", { name: /I have stored it/ }).click();
  assert.equal(await page.getByLabel("Ingestion key secret").count(), 0);

  // revoke (with confirmation): the key then gets 401
  await keyRow.getByRole("button", { name: "Revoke key browser-test" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Revoke key" }).click();
  await keyRow.getByText("revoked", { exact: true }).waitFor();
  const denied = await srv.call("POST", "/api/v1/usage/ingest", { key: secret, body: { provider: "openai", model: "gpt-4o-mini", requestId: rid + "-2" } });
  assert.equal(denied.status, 401);

  // strict mode switch
  const sw = page.getByRole("switch", { name: "Strict mode" });
  await sw.check();
  await waitFor(async () => (await srv.call("GET", "/api/v1/admin/workspaces/default")).body.strictMode === true, "strict mode on");
  await sw.uncheck();
  await waitFor(async () => (await srv.call("GET", "/api/v1/admin/workspaces/default")).body.strictMode === false, "strict mode off");

  // event time and tags (issue 10): the window and the tag dimensions, saved through the settings API
  await page.getByLabel("Accept events back (days)").fill("2");
  await page.getByLabel("and ahead (minutes)").fill("60");
  await page.getByLabel("Tag dimensions").fill("team, Bad Key");
  await page.getByRole("form", { name: "Event time and tags" }).getByRole("button", { name: "Save" }).click();
  await page.getByText("“Bad Key” is not a tag key", { exact: false }).waitFor();
  await page.getByLabel("Tag dimensions").fill("team, customer_tier");
  await page.getByRole("form", { name: "Event time and tags" }).getByRole("button", { name: "Save" }).click();
  await waitFor(async () => {
    const b = (await srv.call("GET", "/api/v1/admin/workspaces/default")).body;
    return b.eventWindow.backSeconds === 172800 && b.eventWindow.forwardSeconds === 3600 &&
      JSON.stringify(b.tagDimensions) === JSON.stringify(["team", "customer_tier"]);
  }, "event window and tag dimensions saved");
  // back to the defaults for the tests after this one
  await srv.call("PATCH", "/api/v1/admin/workspaces/default", { body: { eventWindow: null, tagDimensions: [] } });
});

test("Settings → Pricing: coverage search, and a workspace price for the unpriced model", async () => {
  // from the warning straight to pricing, with the model filled in
  await page.getByRole("link", { name: /^Warnings/ }).click();
  await page.getByRole("link", { name: `Check pricing for ${UNPRICED_MODEL}` }).click();
  const search = page.getByLabel("Search models");
  assert.equal(await search.inputValue(), UNPRICED_MODEL);
  const coverage = page.getByRole("status").filter({ hasText: /catalog|priced/ });
  await assertVisibleText(coverage, /No catalog price/);
  await search.fill("gpt-4o-mini");
  await assertVisibleText(coverage, /is in the catalog/);
  assert.ok(await page.getByRole("table", { name: "Pricing catalog" }).locator("tbody tr").count() >= 1);

  await search.fill(UNPRICED_MODEL);
  await page.getByRole("button", { name: `Add a workspace price for “${UNPRICED_MODEL}”` }).click();
  assert.equal(await page.getByLabel("Price model").inputValue(), UNPRICED_MODEL);
  assert.equal(await page.getByLabel("Price provider").inputValue(), "openai");
  await page.getByLabel("Input $/Mtok", { exact: true }).fill("2");
  await page.getByLabel("Output $/Mtok", { exact: true }).fill("10");
  await page.getByRole("button", { name: "Save price" }).click();
  await row(page.getByRole("table", { name: "Workspace prices" }), UNPRICED_MODEL).waitFor();
  await assertVisibleText(coverage, /priced by this workspace's override/);

  // new events with that model now have a cost: 1000 × $2/M + 200 × $10/M = $0.004
  const rid = `${RUN}-override`;
  const r = await srv.call("POST", "/api/v1/usage/ingest", { key, body: ev("override", { model: UNPRICED_MODEL, requestId: rid }) });
  assert.equal(r.body.inserted, 1, JSON.stringify(r.body));
  assert.equal(r.body.warnings, undefined, "no unpriced_model warning any more");
  const back = await srv.call("GET", `/api/v1/admin/workspaces/default/usage/events?requestId=${rid}`);
  assert.equal(back.body.events[0].costUsd, "0.004");
  assert.match(back.body.events[0].priceId, /^override:/);
});

test("Budgets creates a budget and shows its exact spend this period", async () => {
  await page.getByRole("link", { name: "Budgets" }).click();
  const form = page.getByRole("form", { name: "New budget" });
  await form.waitFor();
  await form.getByLabel("Name").fill("Docs monthly");
  await form.getByLabel("Scope").selectOption("project");
  await form.getByLabel("Project").selectOption("document-processing");
  await form.getByLabel("Amount (USD)").fill("2.00");
  await form.getByRole("button", { name: "Create budget" }).click();
  const table = page.getByRole("table", { name: "Budgets" });
  await assertVisibleText(table, /Docs monthly/);
  // document-processing was charged one event of $0.25 this month: 12.5 % of $2.00
  const r = table.locator("tbody tr").filter({ hasText: "Docs monthly" });
  const text = await r.innerText();
  assert.match(text, /\$0\.25\b/);
  assert.match(text, /\$2\.00/);
  assert.match(text, /12\.5%/);
  await shot("budgets");
});

test("Alerts adds a webhook channel (secret shown once) and delivers a signed test message", async () => {
  const got = [];
  const receiver = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => { body += d; });
    req.on("end", () => {
      got.push({ headers: req.headers, body });
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end("{}");
    });
  });
  await new Promise((r) => receiver.listen(0, "127.0.0.1", r));
  try {
    await page.getByRole("link", { name: "Alerts" }).click();
    const form = page.getByRole("form", { name: "New channel" });
    await form.waitFor();
    await form.getByLabel("Name").fill("ops");
    await form.getByLabel("URL").fill(`http://127.0.0.1:${receiver.address().port}/hook`);
    await form.getByRole("button", { name: "Add channel" }).click();
    const secretBox = page.getByLabel("Signing secret", { exact: true });
    await secretBox.waitFor();
    const secret = (await secretBox.innerText()).trim();
    assert.match(secret, /^whsec_[A-Za-z0-9]{37}$/);
    await page.getByRole("button", { name: "Refresh" }).click();
    const channels = page.getByRole("table", { name: "Alert channels" });
    await assertVisibleText(channels, /ops/);
    assert.doesNotMatch(await page.locator("main").innerText(), new RegExp(secret), "the secret is not shown again");
    await channels.getByRole("button", { name: "Send a test message to ops" }).click();
    await waitFor(async () => got.length > 0, "the test message", 10000);
    const ts = got[0].headers["x-costlynx-timestamp"];
    const want = "sha256=" + createHmac("sha256", secret).update(ts + "." + got[0].body).digest("hex");
    assert.equal(got[0].headers["x-costlynx-signature"], want, "signed with the secret shown once");
    assert.equal(JSON.parse(got[0].body).kind, "test");
    await waitFor(async () => {
      await page.getByRole("button", { name: "Refresh" }).click();
      const t = page.getByRole("table", { name: "Deliveries" });
      return (await t.count()) > 0 && /delivered/.test(await t.innerText());
    }, "the delivery listed as delivered", 10000);
    await shot("alerts");
  } finally {
    receiver.close();
  }
});

test("Warnings lists feature spellings and folds one into the suggested label", async () => {
  const r = await srv.call("POST", "/api/v1/usage/ingest", { key, body: { events: [
    ev("sp1", { feature: "chat-response", estimatedCostUsd: 0.01 }), ev("sp2", { feature: "chat-response", estimatedCostUsd: 0.01 }),
    ev("sp3", { feature: "chat_response", estimatedCostUsd: 0.01 })] } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  await page.getByRole("link", { name: "Overview" }).click();
  await page.getByRole("link", { name: /^Warnings/ }).click();
  const table = page.getByRole("table", { name: "Spellings in customer-support" });
  await assertVisibleText(table, /chat_response/);
  await table.getByRole("button", { name: "Fold chat_response into chat-response" }).click();
  await waitFor(async () => (await page.getByRole("table", { name: "Spellings in customer-support" }).count()) === 0, "the group to go");
  const costs = await srv.call("GET", "/api/v1/admin/workspaces/default/usage/costs?groupBy=feature&project=customer-support&feature=chat-response");
  assert.equal(costs.body.total.events, 3);
  assert.equal(costs.body.total.costUsd, "0.03");
});

test("Warnings reprices the stored events of a model that now has a price (issue 11)", async () => {
  // the previous test gave the unpriced model a workspace price; event 5 was stored without one:
  // 1000 × $2/M + 200 × $10/M = $0.004
  await page.getByRole("link", { name: /^Warnings/ }).click();
  await page.getByRole("button", { name: `Reprice ${UNPRICED_MODEL}` }).click();
  const dlg = page.getByRole("dialog", { name: `Reprice ${UNPRICED_MODEL}` });
  await assertVisibleText(dlg, /1 event would be priced: \$0(\.00)? → \$0\.004/);
  await dlg.getByRole("button", { name: "Apply" }).click();
  await page.getByRole("table", { name: "Unpriced models" }).waitFor({ state: "detached" });
  const back = await srv.call("GET", `/api/v1/admin/workspaces/default/usage/events?requestId=${RUN}-5`);
  assert.equal(back.body.events[0].costUsd, "0.004");
  assert.equal(back.body.events[0].version, 2);
});

test("an event's panel shows its history and the admin voids and amends it (issue 11)", async () => {
  await page.getByRole("link", { name: "Overview" }).click();
  const table = page.getByRole("table", { name: "Latest events" });
  await table.waitFor();
  const rid = `${RUN}-3`; // document-processing · contract-analysis, the caller's $0.25
  await table.locator(`tbody tr[data-request-id="${rid}"]`).click();
  const dlg = page.getByRole("dialog", { name: `Event ${rid}` });
  await dlg.waitFor();
  await assertVisibleText(dlg, /version 1/);
  assert.equal(await dlg.getByRole("table", { name: "Versions" }).locator("tbody tr").count(), 1);
  // amend: 1000 input tokens become 5000; the caller's cost stands
  await dlg.getByLabel("inputTokens").fill("5000");
  await dlg.getByLabel("Reason").fill("tokens were cut by a bug");
  await dlg.getByRole("button", { name: "Amend" }).click();
  await assertVisibleText(dlg, /version 2/);
  const versions = dlg.getByRole("table", { name: "Versions" });
  assert.equal(await versions.locator("tbody tr").count(), 2);
  assert.match(await versions.locator("tbody tr").first().innerText(), /amend[\s\S]*tokens were cut by a bug[\s\S]*inputTokens/);
  await shot("event-panel");
  // void: it leaves the totals
  const before = await srv.call("GET", "/api/v1/admin/workspaces/default/usage/overview");
  const spendBefore = (([i, f = ""]) => BigInt(i) * 1000000000n + BigInt((f + "000000000").slice(0, 9)))(before.body.totals.costUsd.split("."));
  await dlg.getByLabel("Reason").fill("test traffic");
  await dlg.getByRole("button", { name: "Void" }).click();
  await assertVisibleText(dlg, /cannot be amended/);
  assert.match(await versions.locator("tbody tr").first().innerText(), /void[\s\S]*test traffic/);
  await dlg.getByRole("button", { name: "Close" }).click();
  // the page's total is the API's, which lost exactly the voided $0.25
  const nanos = (usd) => { const [i, f = ""] = usd.split("."); return BigInt(i) * 1000000000n + BigInt((f + "000000000").slice(0, 9)); };
  const ov = await srv.call("GET", "/api/v1/admin/workspaces/default/usage/overview");
  assert.equal(nanos(ov.body.totals.costUsd), spendBefore - 250000000n);
  await page.locator('[data-stat="spend"]').filter({ hasText: "$" + (Number(ov.body.totals.costUsd).toFixed(2)) }).waitFor();
  const r = await srv.call("GET", `/api/v1/admin/workspaces/default/usage/events?requestId=${rid}`);
  assert.equal(r.body.events[0].voided, true);
  assert.equal(r.body.events[0].inputTokens, 5000);
  // Costs shows the voided spend apart when asked
  await page.getByRole("link", { name: "Costs" }).click();
  await page.getByRole("button", { name: "Show voided spend" }).click();
  await assertVisibleText(page.locator('[data-voided="total"]'), /^Voided: \$0\.25 in 1 event/);
});

test("the dark sidebar runs the full height of a page longer than the window", async () => {
  // a long Warnings page: 300 unknown project slugs (as a busy workspace has)
  const many = [];
  for (let i = 0; i < 300; i++) many.push(ev(`long-${i}`, { project: `unknown-${String(i).padStart(3, "0")}`, estimatedCostUsd: 0.001 }));
  for (let i = 0; i < many.length; i += 100) {
    const r = await srv.call("POST", "/api/v1/usage/ingest", { key, body: { events: many.slice(i, i + 100) } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
  }
  await page.getByRole("link", { name: "Overview" }).click();
  await page.getByRole("link", { name: /^Warnings/ }).click();
  await assertVisibleText(page.getByRole("table", { name: "Unknown projects" }), /unknown-299/);
  const docHeight = await page.evaluate(() => document.documentElement.scrollHeight);
  assert.ok(docHeight > 2 * 800, `the page is longer than two windows (${docHeight}px)`);
  const png = decodePng(await page.screenshot({ fullPage: true }));
  assert.equal(png.height, docHeight, "a full-page screenshot");
  const sidebarWidth = await page.evaluate(() => document.querySelector(".sidebar").getBoundingClientRect().width);
  assert.ok(sidebarWidth >= 200, `a sidebar column (${sidebarWidth}px)`);
  // every 40 px down the sidebar's column, in its left padding (no text there): the dark sidebar
  // colour (#111827), not the page's
  const light = [];
  for (let y = 0; y < png.height; y += 40) {
    const [r, g, b] = png.pixel(4, y);
    if (r + g + b > 3 * 80) light.push(`${y}px: rgb(${r},${g},${b})`);
  }
  assert.deepEqual(light, [], `the sidebar column is light at ${light.slice(0, 5).join(", ")} (page ${png.height}px high)`);
});

test("no script errors in the page", () => {
  assert.deepEqual(pageErrors, []);
});

async function assertVisibleText(locator, re) {
  await locator.first().waitFor();
  const deadline = Date.now() + 5000;
  let text = "";
  while (Date.now() < deadline) {
    text = await locator.first().innerText();
    if (re.test(text)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.match(text, re);
}

async function waitFor(fn, what, ms = 5000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail("timed out waiting for " + what);
}
