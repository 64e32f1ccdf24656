/**
 * What the client reads from responses and adds to requests.
 * @module tessera/http
 */

/** The URL a `fetch` input names, as text. @param {RequestInfo | URL} input */
export function urlOf(input) {
  return String(input instanceof Request ? input.url : input);
}

/** Does this 401 say the access token is the problem (RFC 6750 `invalid_token`)? @param {Response} response */
export function rejectsToken(response) {
  return response.status === 401 && (response.headers.get("www-authenticate") ?? "").includes("invalid_token");
}

/** @param {Response} response */
export function retryAfterMs(response) {
  const value = response.headers.get("retry-after");
  if (!value) return 0;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, date - Date.now()) : 0;
}

/**
 * Can this request be sent a second time? Rebuilt from `init`, never a consumed stream.
 * @param {RequestInfo | URL} input @param {RequestInit} init
 */
export function replayable(input, init) {
  const body = init.body;
  if (body != null) return !(typeof ReadableStream !== "undefined" && body instanceof ReadableStream);
  return !(typeof Request !== "undefined" && input instanceof Request && input.body !== null);
}

/** The request's method, as given (`init` first, then a `Request`'s). @param {RequestInfo | URL} input @param {RequestInit} init */
export function methodOf(input, init) {
  return init.method ?? (input instanceof Request ? input.method : "GET");
}

/**
 * `fetch(input, init)` with `extra` headers set (the token, its proof); a `Request` is cloned,
 * so it can be sent again.
 * @param {typeof fetch} doFetch @param {RequestInfo | URL} input @param {RequestInit} init
 * @param {Record<string, string>} extra
 */
export function sendWith(doFetch, input, init, extra) {
  const headers = new Headers(init.headers ?? (input instanceof Request ? input.headers : undefined));
  for (const [name, value] of Object.entries(extra)) headers.set(name, value);
  const request = input instanceof Request ? input.clone() : input;
  return doFetch(request, { ...init, headers });
}
