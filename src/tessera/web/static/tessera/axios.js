/**
 * `auth.axios(instance)`: what `auth.fetch` does, for an axios instance, through its own
 * interceptors (axios itself is the caller's; this module never imports it).
 *
 * Before each request to a trusted origin: the token made fresh (one refresh for all callers and
 * tabs), then `Authorization` and, for a bound session, a DPoP proof of this very request
 * (`htm`, `htu`, `ath`). After it: the server's DPoP nonce kept; a 401 asking for a nonce sent
 * once more with one; a 401 `invalid_token` refreshed once and sent once more — and when that
 * refresh answers 401 the session is over (`logout`) and the 401 is the caller's error.
 *
 * Where the token goes is decided on the URL the request is finally sent to. axios runs request
 * interceptors registered earlier *after* ours, and they may change `baseURL`, `url` or
 * `method`; so the interceptor only prepares (the refresh and the proof are asynchronous), and
 * a request transform — the last step axios takes before its adapter, after every
 * interceptor — puts the headers on, when the final URL is trusted and, for a proof, the one it
 * was made for. Whatever goes wrong in between, the request goes without the token.
 * @module tessera/axios
 */

/**
 * What the adapter needs from the client.
 * @typedef {object} Core
 * @property {(url: string) => boolean} trusted may a request to `url` carry the token?
 * @property {(url: string) => URL | null} absolute the URL a request goes to
 * @property {() => Promise<void>} ensureFresh
 * @property {() => Promise<void>} refresh one refresh for all who ask
 * @property {() => {session: any, generation: number, ended: boolean}} state
 * @property {(session: any, method: string, url: string) => Promise<Record<string, string>>} authorization
 * @property {(url: string, nonce: string | null | undefined) => void} remember
 * @property {(event: string, detail: any) => void} emit
 */

// Set on the config of a request sent again, so that it is sent again at most once per cause
// (axios re-merges a config, and keeps keys it does not know).
const RETRIED = "tesseraRetried";
const NONCE_RETRIED = "tesseraNonceRetried";
// Set on the config by the request interceptor: a key to what it prepared (kept out of sight).
const TICKET = "tesseraTicket";

/** Opaque, and not a plain object: axios copies it by reference where it merges configs. */
class Ticket {}

/** A response header, from axios's `AxiosHeaders` or a plain object. @param {any} headers @param {string} name */
function header(headers, name) {
  const value = typeof headers?.get === "function" ? headers.get(name) : headers?.[name];
  return value == null ? null : String(value);
}

/** @param {any} config @param {Record<string, string>} values */
function setHeaders(config, values) {
  config.headers ??= {};
  for (const [name, value] of Object.entries(values)) {
    if (typeof config.headers.set === "function") config.headers.set(name, value);
    else config.headers[name] = value;
  }
}

/**
 * The URL an axios config names, resolved: a relative `url` joined to `baseURL` as axios joins
 * them; an absolute `url` by itself, whatever `allowAbsoluteUrls` says. Before axios 1.8.0
 * (1.8.2 in its fetch and xhr adapters) that option is ignored and such a request goes to `url`;
 * from then on it goes under `baseURL` — and then without the token, which is the safe way to be
 * wrong. Not `getUri()`: before axios 1.0 it ignored `baseURL`, and a relative path would have
 * passed for the page's own.
 * @param {any} config @param {Core} core
 */
function urlOf(config, core) {
  const url = String(config.url ?? "");
  const base = config.baseURL ? String(config.baseURL) : "";
  const absolute = /^([a-z][a-z\d+\-.]*:)?\/\//i.test(url);
  if (!base || absolute) return core.absolute(url);
  return core.absolute(url ? `${base.replace(/\/?\/$/, "")}/${url.replace(/^\/+/, "")}` : base);
}

/** The request's headers as a plain object, without the two this module sets. @param {any} headers */
function withoutOurs(headers) {
  const plain = { ...(typeof headers?.toJSON === "function" ? headers.toJSON() : headers) };
  for (const name of Object.keys(plain)) if (/^(authorization|dpop)$/i.test(name)) delete plain[name];
  return plain;
}

/**
 * Install the interceptors on `instance` (once: a second call changes nothing).
 * @template T @param {T} instance @param {Core} core @param {WeakSet<object>} attached
 * @returns {T}
 */
export function attachAxios(instance, core, attached) {
  const axios = /** @type {any} */ (instance);
  if (typeof axios?.interceptors?.request?.use !== "function" || typeof axios.request !== "function") {
    throw new TypeError("auth.axios: expected an axios instance (axios.create())");
  }
  if (attached.has(axios)) return instance;
  attached.add(axios);

  /** What the interceptor prepared: a ticket → the headers, and the request they were made for. */
  const prepared = new WeakMap();
  /** What went out with the token: the config → its URL, scheme and the state's generation. */
  const sent = new WeakMap();

  /**
   * The last request transform: axios calls it with the config it is about to send (`this`),
   * after every interceptor. The prepared headers go on if the final URL is trusted and — for a
   * DPoP proof, which names one method and URL — the one they were made for.
   * @this {any} @param {any} data
   */
  function attach(data) {
    const config = this;
    const ready = config?.[TICKET] ? prepared.get(config[TICKET]) : undefined;
    const url = ready ? urlOf(config, core) : null;
    if (!ready || !url || !core.trusted(url.href)) return data;
    const method = String(config.method ?? "get").toUpperCase();
    if (ready.bound && (url.href !== ready.url || method !== ready.method)) return data;
    setHeaders(config, ready.headers);
    sent.set(config, { url: url.href, generation: ready.generation, scheme: ready.scheme });
    return data;
  }

  axios.interceptors.request.use(async (/** @type {any} */ config) => {
    delete config[TICKET]; // a config sent before (an error's, a retry's) starts afresh
    const url = urlOf(config, core);
    if (!url || !core.trusted(url.href)) return config; // untouched: no token, no refresh, no retry
    await core.ensureFresh();
    const { session, generation } = core.state();
    if (!session) return config;
    const method = String(config.method ?? "get").toUpperCase();
    const headers = await core.authorization(session, method, url.href);
    const ticket = new Ticket();
    const bound = session.scheme === "DPoP"; // a proof names one method and URL
    prepared.set(ticket, { url: url.href, method, headers, bound, generation, scheme: session.scheme });
    config[TICKET] = ticket;
    const transforms = [config.transformRequest ?? []].flat();
    if (!transforms.includes(attach)) config.transformRequest = [...transforms, attach];
    return config;
  });

  /** @param {any} config @param {any} response */
  function seen(config, response) {
    const record = sent.get(config);
    if (!record) return null;
    core.remember(record.url, header(response.headers, "dpop-nonce"));
    const type = config[RETRIED] ? "retry" : "request";
    core.emit("trace", { type, url: record.url, status: response.status });
    return record;
  }

  axios.interceptors.response.use(
    (/** @type {any} */ response) => {
      seen(response.config, response);
      return response;
    },
    async (/** @type {any} */ error) => {
      const config = error?.config;
      const response = error?.response;
      const record = config && response ? seen(config, response) : null;
      if (!record || response.status !== 401) throw error;
      const challenge = header(response.headers, "www-authenticate") ?? "";
      const nonce = header(response.headers, "dpop-nonce");
      if (record.scheme === "DPoP" && challenge.includes("use_dpop_nonce") && nonce && !config[NONCE_RETRIED]) {
        return axios.request({ ...config, headers: withoutOurs(config.headers), [NONCE_RETRIED]: true });
      }
      if (!challenge.includes("invalid_token") || config[RETRIED] || core.state().ended) throw error;
      const landed = error.request?.responseURL;
      if (landed && !core.trusted(landed)) throw error; // redirected elsewhere: not our token's 401
      if (core.state().generation === record.generation) await core.refresh(); // else refreshed already
      if (!core.state().session) throw error; // the session ended
      return axios.request({ ...config, headers: withoutOurs(config.headers), [RETRIED]: true });
    },
  );
  return instance;
}
