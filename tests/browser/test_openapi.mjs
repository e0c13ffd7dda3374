// The OpenAPI document (web/openapi.json, served at /openapi.json) against the running server:
// every registered route (GET /api/v1/routes) is documented and every documented operation is
// registered; the document is well-formed (refs resolve, path parameters declared, security
// schemes, error schema), and real answers match the documented response schemas.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { startServer, SOURCE_DIR } from "./server.mjs";

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
let srv;
let doc;
let routes;

before(async () => {
  srv = await startServer();
  const d = await srv.call("GET", "/openapi.json", { token: null });
  assert.equal(d.status, 200, "GET /openapi.json");
  assert.match(d.headers.get("content-type") || "", /application\/json/);
  doc = d.body;
  const r = await srv.call("GET", "/api/v1/routes", { token: null });
  assert.equal(r.status, 200, "GET /api/v1/routes");
  routes = r.body.routes;
  assert.ok(Array.isArray(routes) && routes.length > 10, "the server lists its routes");
});

after(async () => {
  if (srv) await srv.stop();
});

// ---- the comparison ------------------------------------------------------------------------

/** `/` and static files of the dashboard are not part of the API. */
export function ignored(p) {
  return p === "/" || /\.(html|m?js|css|svg|png|ico)$/.test(p);
}

/** "GET /api/v1/admin/workspaces/{}/keys/{}" for every operation of the document. */
export function documentedOps(d) {
  const out = new Set();
  for (const [p, item] of Object.entries(d.paths || {})) {
    const norm = p.replace(/\{[^}/]+\}/g, "{}");
    for (const m of METHODS) if (item[m]) out.add(`${m.toUpperCase()} ${norm}`);
  }
  return out;
}

export function registeredOps(list) {
  return new Set(list.map((r) => `${r.method.toUpperCase()} ${r.path}`));
}

/** {undocumented: registered but not in the document, unregistered: documented but not served} */
export function compare(d, list) {
  const docOps = documentedOps(d);
  const regOps = registeredOps(list);
  const keep = (op) => !ignored(op.slice(op.indexOf(" ") + 1));
  return {
    undocumented: [...regOps].filter(keep).filter((op) => !docOps.has(op)).sort(),
    unregistered: [...docOps].filter(keep).filter((op) => !regOps.has(op)).sort(),
  };
}

test("every registered route is documented and every documented one is registered", () => {
  const { undocumented, unregistered } = compare(doc, routes);
  assert.deepEqual(undocumented, [], "routes the server registers but web/openapi.json lacks");
  assert.deepEqual(unregistered, [], "operations web/openapi.json documents but the server does not register");
});

test("the comparison fails on a missing or an extra route", () => {
  const copy = structuredClone(doc);
  delete copy.paths["/api/v1/admin/workspaces/{ws}/keys/{id}"];
  copy.paths["/api/v1/admin/workspaces/{ws}/nothing"] = { get: { responses: { 200: { description: "x" } } } };
  const { undocumented, unregistered } = compare(copy, routes);
  assert.deepEqual(undocumented, ["DELETE /api/v1/admin/workspaces/{}/keys/{}"]);
  assert.deepEqual(unregistered, ["GET /api/v1/admin/workspaces/{}/nothing"]);
  // a method the path does not take counts too
  const copy2 = structuredClone(doc);
  copy2.paths["/healthz"].post = copy2.paths["/healthz"].get;
  assert.deepEqual(compare(copy2, routes).unregistered, ["POST /healthz"]);
});

test("the served document is web/openapi.json (the binary was rebuilt)", () => {
  const onDisk = JSON.parse(readFileSync(path.join(SOURCE_DIR, "web", "openapi.json"), "utf8"));
  assert.deepEqual(doc, onDisk);
});

// ---- well-formedness ---------------------------------------------------------------------------

function resolve(ref) {
  assert.ok(ref.startsWith("#/"), `only local refs: ${ref}`);
  let node = doc;
  for (const part of ref.slice(2).split("/")) {
    node = node && node[part.replace(/~1/g, "/").replace(/~0/g, "~")];
  }
  assert.ok(node !== undefined, `unresolved $ref ${ref}`);
  return node;
}

const deref = (x) => (x && x.$ref ? deref(resolve(x.$ref)) : x);

test("the document is OpenAPI 3 with security schemes, an error schema and resolvable refs", () => {
  assert.match(doc.openapi, /^3\.[01]\./);
  assert.ok(doc.info && doc.info.title && doc.info.version);
  const ss = doc.components.securitySchemes;
  assert.ok(Object.values(ss).some((s) => s.type === "http" && s.scheme === "bearer"), "bearer admin token");
  assert.ok(Object.values(ss).some((s) => s.type === "apiKey" && s.in === "header" && s.name === "X-API-Key"), "X-API-Key");
  const errSchema = deref(doc.components.schemas.ErrorResponse);
  assert.deepEqual(errSchema.required, ["ok", "error"]);
  // every $ref anywhere resolves
  const walk = (node) => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (node && typeof node === "object") {
      if (typeof node.$ref === "string") resolve(node.$ref);
      Object.values(node).forEach(walk);
    }
  };
  walk(doc);
});

test("every operation declares its path parameters, security, a success and error responses", () => {
  for (const [p, item] of Object.entries(doc.paths)) {
    const names = [...p.matchAll(/\{([^}/]+)\}/g)].map((m) => m[1]);
    for (const m of METHODS) {
      const o = item[m];
      if (!o) continue;
      const where = `${m.toUpperCase()} ${p}`;
      const params = [...(item.parameters || []), ...(o.parameters || [])].map(deref);
      for (const n of names) {
        assert.ok(params.some((x) => x.in === "path" && x.name === n && x.required === true), `${where}: path parameter {${n}} declared`);
      }
      for (const x of params.filter((x) => x.in === "path")) assert.ok(names.includes(x.name), `${where}: path parameter ${x.name} is in the path`);
      assert.ok(o.operationId, `${where}: operationId`);
      assert.ok(Array.isArray(o.security || doc.security), `${where}: security`);
      const codes = Object.keys(o.responses || {});
      assert.ok(codes.some((c) => /^2\d\d$/.test(c)), `${where}: a 2xx response`);
      const secured = (o.security || doc.security).length > 0;
      if (secured) assert.ok(codes.includes("401"), `${where}: documents 401`);
      // OTLP/HTTP (tag otlp) answers errors as OTLP requires, with a google.rpc.Status; every other
      // route with the error schema
      const errorSchema = (o.tags || []).includes("otlp") ? doc.components.schemas.RpcStatus
        : doc.components.schemas.ErrorResponse;
      assert.ok(errorSchema, `${where}: its error schema exists`);
      for (const c of codes.filter((c) => /^[45]\d\d$/.test(c))) {
        const schema = deref(deref(o.responses[c]).content["application/json"].schema);
        assert.equal(schema, deref(errorSchema), `${where} ${c}: the error schema`);
      }
      if (["post", "patch", "put"].includes(m) && !/reload$/.test(p)) assert.ok(o.requestBody, `${where}: requestBody`);
    }
  }
});

// ---- real answers against the documented schemas -------------------------------------------

/** A small JSON Schema check (the subset the document uses). Returns a list of problems. */
function check(schema, value, at = "$", out = []) {
  schema = deref(schema);
  if (!schema || typeof schema !== "object") return out;
  if (schema.allOf) for (const s of schema.allOf) check(s, value, at, out);
  if (schema.anyOf || schema.oneOf) {
    const alts = schema.anyOf || schema.oneOf;
    if (!alts.some((s) => check(s, value, at, []).length === 0)) out.push(`${at}: matches none of ${alts.length} alternatives: ${JSON.stringify(value).slice(0, 120)}`);
  }
  if ("const" in schema && value !== schema.const) out.push(`${at}: expected ${JSON.stringify(schema.const)}`);
  if (schema.enum && !schema.enum.includes(value)) out.push(`${at}: ${JSON.stringify(value)} not in ${schema.enum.join("|")}`);
  if (schema.type) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    const actual = value === null ? "null" : Array.isArray(value) ? "array" : Number.isInteger(value) ? "integer" : typeof value;
    const ok = types.some((t) => t === actual || (t === "number" && actual === "integer"));
    if (!ok) {
      out.push(`${at}: type ${actual}, documented ${types.join("|")}`);
      return out;
    }
  }
  if (schema.pattern && typeof value === "string" && !new RegExp(schema.pattern).test(value)) out.push(`${at}: "${value}" does not match ${schema.pattern}`);
  if (value && typeof value === "object" && !Array.isArray(value)) {
    for (const r of schema.required || []) if (!(r in value)) out.push(`${at}: required "${r}" missing`);
    for (const [k, s] of Object.entries(schema.properties || {})) if (k in value) check(s, value[k], `${at}.${k}`, out);
  }
  if (Array.isArray(value) && schema.items) value.forEach((v, i) => check(schema.items, v, `${at}[${i}]`, out));
  return out;
}

function documentedSchema(method, p, status) {
  const item = doc.paths[p];
  assert.ok(item && item[method], `documented: ${method.toUpperCase()} ${p}`);
  const r = deref(item[method].responses[String(status)]);
  assert.ok(r, `${method.toUpperCase()} ${p} documents ${status}`);
  return r.content["application/json"].schema;
}

test("the schema check catches an answer that differs from the document", () => {
  const ws = doc.components.schemas.Workspace;
  assert.deepEqual(check(ws, { slug: "default", name: "D", strictMode: false, createdAt: "2026-11-27T00:00:00.000Z",
    eventWindow: { backSeconds: 3024000, forwardSeconds: 300 }, tagDimensions: [] }), []);
  assert.notDeepEqual(check(ws, { slug: "default", name: "D", createdAt: "2026-11-27T00:00:00.000Z" }), [], "missing required");
  assert.notDeepEqual(check(ws, { slug: "default", name: "D", strictMode: "no", createdAt: "x" }), [], "wrong type");
  assert.notDeepEqual(check({ $ref: "#/components/schemas/StoredEvent" }, { costUsd: 1 }), [], "nested");
});

test("real answers match the documented response schemas", async () => {
  const W = "/api/v1/admin/workspaces/{ws}";
  const A = "/api/v1/admin/workspaces/default";
  const calls = [];
  const expectDoc = async (method, docPath, realPath, status, opts) => {
    const r = await srv.call(method.toUpperCase(), realPath, opts);
    assert.equal(r.status, status, `${method.toUpperCase()} ${realPath}: ${JSON.stringify(r.body)}`);
    const problems = check(documentedSchema(method, docPath, status), r.body);
    assert.deepEqual(problems, [], `${method.toUpperCase()} ${realPath} answer vs ${docPath} ${status}`);
    calls.push(`${method} ${docPath}`);
    return r.body;
  };
  await expectDoc("get", "/healthz", "/healthz", 200, { token: null });
  await expectDoc("get", "/readyz", "/readyz", 200, { token: null });
  await expectDoc("get", "/api/v1/routes", "/api/v1/routes", 200, { token: null });
  await expectDoc("get", "/api/v1/admin/workspaces", "/api/v1/admin/workspaces", 200);
  await expectDoc("get", "/api/v1/admin/workspaces", "/api/v1/admin/workspaces", 401, { token: "wrong" });
  await expectDoc("post", "/api/v1/admin/workspaces", "/api/v1/admin/workspaces", 201, { body: { slug: "acme", name: "Acme" } });
  await expectDoc("post", "/api/v1/admin/workspaces", "/api/v1/admin/workspaces", 409, { body: { slug: "acme" } });
  await expectDoc("get", W, A, 200);
  await expectDoc("patch", W, "/api/v1/admin/workspaces/acme", 200, { body: { strictMode: true } });
  await expectDoc("get", W, "/api/v1/admin/workspaces/nope", 404);
  await expectDoc("post", W + "/projects", A + "/projects", 201, { body: { slug: "customer-support", name: "Customer support" } });
  await expectDoc("post", W + "/projects", A + "/projects", 400, { body: { slug: "Bad Slug" } });
  await expectDoc("get", W + "/projects", A + "/projects", 200);
  await expectDoc("get", W + "/projects/{project}", A + "/projects/customer-support", 200);
  await expectDoc("post", W + "/projects/{project}/environments", A + "/projects/customer-support/environments", 201, { body: { slug: "canary" } });
  await expectDoc("get", W + "/projects/{project}/environments", A + "/projects/customer-support/environments", 200);
  const key = await expectDoc("post", W + "/keys", A + "/keys", 201, { body: { name: "k", defaultProject: "customer-support", defaultEnvironment: "prod" } });
  await expectDoc("get", W + "/keys", A + "/keys", 200);
  await expectDoc("post", "/api/v1/usage/ingest", "/api/v1/usage/ingest", 200, { key: key.key,
    body: { events: [
      { provider: "openai", model: "gpt-4o-mini", inputTokens: 850, outputTokens: 320, requestId: "oa-1", feature: "ticket-classifier" },
      { provider: "openai", model: "mystery-model", requestId: "oa-2", project: "nope" },
      { provider: "openai", model: "gpt-4o-mini", inputTokens: -5, requestId: "oa-3" }] } });
  await expectDoc("post", "/api/v1/usage/ingest", "/api/v1/usage/ingest", 400, { key: key.key, body: { provider: "openai", requestId: "oa-4" } });
  await expectDoc("post", "/api/v1/usage/ingest", "/api/v1/usage/ingest", 401, { key: "clx_wrong", body: { provider: "openai", model: "m", requestId: "oa-5" } });
  const span = (id) => ({ traceId: "5b8efff798038103d269b633813fc60c", spanId: "eee19b7ec3c1b17" + id,
    name: "chat", attributes: [["gen_ai.provider.name", { stringValue: "openai" }],
      ["gen_ai.response.model", { stringValue: "gpt-4o-mini" }], ["gen_ai.usage.input_tokens", { intValue: "850" }],
      ["gen_ai.usage.output_tokens", { intValue: 320 }]].map(([k, v]) => ({ key: k, value: v })) });
  const exported = await expectDoc("post", "/v1/traces", "/v1/traces", 200, { key: key.key,
    body: { resourceSpans: [{ scopeSpans: [{ spans: [span("4"), { ...span("5"), attributes: [] }] }] }] } });
  assert.deepEqual(exported, {}, "every span stored or ignored");
  const partial = await expectDoc("post", "/v1/traces", "/v1/traces", 200, { key: key.key,
    body: { resourceSpans: [{ scopeSpans: [{ spans: [{ ...span("6"), attributes: span("6").attributes.slice(2) }] }] }] } });
  assert.equal(partial.partialSuccess.rejectedSpans, "1");
  await expectDoc("post", "/v1/traces", "/v1/traces", 400, { key: key.key, body: { resourceSpans: {} } });
  await expectDoc("post", "/v1/traces", "/v1/traces", 401, { key: "clx_wrong", body: { resourceSpans: [] } });
  await expectDoc("get", W + "/usage/events", A + "/usage/events?limit=1", 200);
  await expectDoc("get", W + "/usage/overview", A + "/usage/overview", 200);
  await expectDoc("get", W + "/usage/costs", A + "/usage/costs?groupBy=project,feature,day", 200);
  await expectDoc("get", W + "/usage/costs", A + "/usage/costs?groupBy=nope", 400);
  await expectDoc("get", W + "/usage/warnings", A + "/usage/warnings", 200);
  await expectDoc("get", "/api/v1/pricing/models", "/api/v1/pricing/models", 200, { key: key.key });
  await expectDoc("post", "/api/v1/admin/pricing/reload", "/api/v1/admin/pricing/reload", 200);
  await expectDoc("post", W + "/pricing/overrides", A + "/pricing/overrides", 201, { body: { provider: "openai", model: "mystery-model", inputPerMtok: "1.25", outputPerMtok: 5, note: "contract" } });
  await expectDoc("post", W + "/pricing/overrides", A + "/pricing/overrides", 400, { body: { provider: "openai", model: "mystery-model" } });
  await expectDoc("get", W + "/pricing/overrides", A + "/pricing/overrides", 200);
  await expectDoc("delete", W + "/pricing/overrides", A + "/pricing/overrides?provider=openai&model=mystery-model", 200);
  await expectDoc("delete", W + "/pricing/overrides", A + "/pricing/overrides?provider=openai&model=mystery-model", 404);
  await expectDoc("post", W + "/pricing/deployments", A + "/pricing/deployments", 201, { body: { deployment: "prod-chat", model: "gpt-4o-mini" } });
  await expectDoc("get", W + "/pricing/deployments", A + "/pricing/deployments", 200);
  await expectDoc("delete", W + "/pricing/deployments", A + "/pricing/deployments?deployment=prod-chat", 200);
  await expectDoc("delete", W + "/pricing/deployments", A + "/pricing/deployments", 400);
  await expectDoc("delete", W + "/keys/{id}", `${A}/keys/${key.id}`, 200);
  await expectDoc("delete", W + "/keys/{id}", `${A}/keys/key_000000000000`, 404);
  const r405 = await srv.call("PUT", A + "/keys");
  assert.equal(r405.status, 405);
  assert.ok(r405.headers.get("allow"), "405 carries Allow");
  assert.deepEqual(check(doc.components.responses.MethodNotAllowed.content["application/json"].schema, r405.body), []);
  assert.ok(calls.length >= 25);
});
