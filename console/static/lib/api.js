// api.js: the console's only way to the server, the REST API under /v1 (api/openapi.yaml describes it).
//
//   import { api, get, ApiError } from '../lib/api.js';
//   const ch = await get(`/v1/channels/${id}`);                 // parsed JSON
//   await api('PUT', `/v1/channels/${id}/app-secret`, { appSecret });
//   try { … } catch (e) { if (e instanceof ApiError) e.fields['basic.ouId'] … }
//
// Every request carries the API token the user signed in with (kept in sessionStorage only, so it ends with
// the tab). An error answer, {error: {code, message, fields}}, is thrown as an ApiError; a 401 also forgets the
// token and calls the handler set with onUnauthenticated (the app shows the sign-in form again). A network
// failure is thrown as an ApiError with code NETWORK.

const tokenKey = 'aicc.token';

/** The API token of this tab's session, or '' when signed out. */
export function getToken() {
  return sessionStorage.getItem(tokenKey) || '';
}

/** Keeps token for this tab's session. */
export function setToken(token) {
  sessionStorage.setItem(tokenKey, token);
}

/** Forgets the token: the sign-out. */
export function clearToken() {
  sessionStorage.removeItem(tokenKey);
}

let unauthenticated = () => {};

/** Sets what happens when the API answers 401: the token is forgotten, then fn(error) runs. */
export function onUnauthenticated(fn) {
  unauthenticated = fn;
}

/** An error answer of the API: status, code (e.g. INVALID), message, and fields by JSON path. */
export class ApiError extends Error {
  constructor(status, code, message, fields) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.fields = fields || {};
  }
}

/**
 * Sends method path with body as JSON (when not undefined) and answers the parsed JSON, or null for a 204.
 * opts.signal aborts it. Throws ApiError.
 */
export async function api(method, path, body, opts = {}) {
  const res = await send(method, path, body, opts);
  if (res.status === 204) return null;
  const type = res.headers.get('Content-Type') || '';
  return type.includes('json') ? res.json() : res.text();
}

/** GET path, as api. */
export function get(path, opts) {
  return api('GET', path, undefined, opts);
}

/** Every item of the list at path (a route without a query), a page of 200 at a time: {items}. */
export async function getAll(path) {
  const items = [];
  let cursor = '';
  do {
    const page = await get(`${path}?limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    items.push(...page.items);
    cursor = page.nextCursor || '';
  } while (cursor);
  return { items };
}

/**
 * GET path and save the answer as a file: for downloads that need the token, which a plain link cannot
 * carry. The file name is the answer's Content-Disposition filename, else fallbackName.
 */
export async function download(path, fallbackName) {
  const res = await send('GET', path, undefined, {});
  const disposition = res.headers.get('Content-Disposition') || '';
  const m = /filename="?([^";]+)"?/.exec(disposition);
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = m ? m[1] : fallbackName;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/** A query string of the params that are not empty: query({status: 'active', name: ''}) is '?status=active'. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, v);
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

async function send(method, path, body, { signal }) {
  const headers = { Accept: 'application/json' };
  const token = getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      credentials: 'omit',
      cache: 'no-store',
    });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'NETWORK', 'The server cannot be reached; check the connection and try again.');
  }
  if (res.ok) return res;
  let err = new ApiError(res.status, 'HTTP_' + res.status, `The server answered ${res.status}.`);
  try {
    const { error } = await res.json();
    if (error && error.code) err = new ApiError(res.status, error.code, error.message, error.fields);
  } catch {
    // not the API's error shape: keep the generic error
  }
  if (res.status === 401) {
    clearToken();
    unauthenticated(err);
  }
  throw err;
}
