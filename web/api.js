// The REST client: admin token from sessionStorage, JSON in and out, errors as ApiError.
const TOKEN_KEY = "costlynx.adminToken";

export class ApiError extends Error {
  constructor(status, body, fallback) {
    const err = (body && body.error) || {};
    super(err.message || fallback || `HTTP ${status}`);
    this.status = status;
    this.code = err.code || (status === 0 ? "network" : "http_" + status);
    this.field = err.field || null;
  }
}

export function getToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) || "";
  } catch {
    return "";
  }
}
export function setToken(t) {
  sessionStorage.setItem(TOKEN_KEY, t);
}
export function clearToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

let onUnauthorized = () => {};
/** Called when the server answers 401 to a request made with the stored token. */
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

/**
 * request("GET", "/api/v1/admin/workspaces", {query, body, token})
 * Resolves with the parsed JSON body; rejects with ApiError (status 0 = server unreachable).
 */
export async function request(method, path, opts = {}) {
  const token = opts.token !== undefined ? opts.token : getToken();
  let url = path;
  if (opts.query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(opts.query)) {
      if (v === undefined || v === null) continue;
      q.set(k, Array.isArray(v) ? v.join(",") : String(v));
    }
    const qs = q.toString();
    if (qs) url += "?" + qs;
  }
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = "Bearer " + token;
  let body;
  if (opts.body !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(opts.body);
  }
  let res;
  try {
    res = await fetch(url, { method, headers, body, cache: "no-store" });
  } catch (e) {
    throw new ApiError(0, null, "Cannot reach costlynxd — is the server running? (" + e.message + ")");
  }
  let data = null;
  const text = await res.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const err = new ApiError(res.status, data, `${method} ${path} failed with HTTP ${res.status}`);
    if (res.status === 401 && opts.token === undefined) onUnauthorized(err);
    throw err;
  }
  return data;
}

export const get = (path, query, opts) => request("GET", path, { ...opts, query });
export const post = (path, body, opts) => request("POST", path, { ...opts, body });
export const patch = (path, body, opts) => request("PATCH", path, { ...opts, body });
export const del = (path, opts) => request("DELETE", path, opts);

/** /api/v1/admin/workspaces/{ws}/... with the slug escaped. */
export function wsPath(ws, rest = "") {
  return `/api/v1/admin/workspaces/${encodeURIComponent(ws)}${rest}`;
}
