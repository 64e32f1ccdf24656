/**
 * tessera.js — the browser client for a Tessera auth server.
 *
 * The access token lives in memory only; the refresh token only in the HttpOnly cookie the
 * server sets. `auth.fetch` is a drop-in `fetch` that sends the access token, refreshes it
 * shortly before it expires, and on a 401 `invalid_token` refreshes once and retries once.
 *
 * One refresh at a time: a shared promise inside the tab, and the Web Locks API around
 * `/auth/refresh` across tabs, while a BroadcastChannel hands the new access token (and logout)
 * to the other tabs. N open tabs cause one rotation per expiry.
 *
 * Only `/auth/refresh` answering 401 ends the session (`logout` event). Network errors, 5xx
 * and 429 keep it: back off, retry later, emit `error`.
 *
 * The token goes only to the page's own origin and the origins listed in `apiOrigins`, each
 * matched exactly (scheme, host, port); any other request is sent untouched.
 *
 * @module tessera
 */

const MAX_LEAD_MS = 60_000;
const MAX_TIMEOUT_MS = 2 ** 31 - 1; // setTimeout overflows past this
const BACKOFF_MS = [1_000, 2_000, 5_000, 10_000, 30_000, 60_000];

/** A refresh that failed for a reason that may go away (network, 5xx, 429, lock timeout). */
export class TransientError extends Error {
  /** @param {string} message @param {number} [status] @param {number} [retryAfterMs] */
  constructor(message, status = 0, retryAfterMs = 0) {
    super(message);
    this.name = "TransientError";
    this.status = status;
    this.retryAfterMs = retryAfterMs;
  }
}

/** The server refused a login; `code` is the contract's error code. */
export class LoginError extends Error {
  /** @param {string} code @param {string} description @param {number} status */
  constructor(code, description, status) {
    super(`${code}: ${description}`);
    this.name = "LoginError";
    this.code = code;
    this.status = status;
  }
}

/**
 * The access token's lifetime from its claims (`exp` − `iat`), in ms; null when unreadable.
 * @param {string} token
 */
function lifetimeOf(token) {
  try {
    const segment = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const claims = JSON.parse(atob(segment.padEnd(Math.ceil(segment.length / 4) * 4, "=")));
    if (typeof claims.exp === "number" && typeof claims.iat === "number" && claims.exp > claims.iat) {
      return { lifetimeMs: (claims.exp - claims.iat) * 1000, iatMs: claims.iat * 1000 };
    }
  } catch {
    /* not a JWT we can read: fall back to expires_in */
  }
  return null;
}

/** @param {Response} response */
function retryAfterMs(response) {
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
function replayable(input, init) {
  const body = init.body;
  if (body != null) return !(typeof ReadableStream !== "undefined" && body instanceof ReadableStream);
  return !(typeof Request !== "undefined" && input instanceof Request && input.body !== null);
}

/**
 * A parsed URL, or null (`URL.canParse` is too recent for some browsers still in use).
 * @param {string} text @param {string} [base]
 */
function parseUrl(text, base) {
  try {
    return new URL(text, base);
  } catch {
    return null;
  }
}

/**
 * The origins that may receive the access token: the page's own and the listed ones, exact.
 * A listed entry must be a bare http(s) origin; a plain-http one on an https page is refused,
 * since the token would then cross the network in clear.
 * @param {unknown} listed @param {string | undefined} ownOrigin
 * @returns {Set<string>}
 */
function trustedOrigins(listed, ownOrigin) {
  if (!Array.isArray(listed)) throw new TypeError("apiOrigins must be an array of origins");
  const origins = new Set(ownOrigin && ownOrigin !== "null" ? [ownOrigin] : []);
  for (const entry of listed) {
    const shown = JSON.stringify(entry);
    const url = typeof entry === "string" ? parseUrl(entry) : null;
    const bare = url && !url.username && !url.password && url.pathname === "/" && !url.search && !url.hash;
    if (!url || !bare || !["https:", "http:"].includes(url.protocol)) {
      throw new TypeError(`apiOrigins: ${shown} is not an origin like "https://api.example.com"`);
    }
    if (url.protocol === "http:" && ownOrigin?.startsWith("https:")) {
      throw new TypeError(`apiOrigins: ${shown} is plain http; an https page never sends its token in clear`);
    }
    origins.add(url.origin);
  }
  return origins;
}

/**
 * @typedef {object} AuthOptions
 * @property {string} [baseUrl] the auth prefix, default "/auth"
 * @property {string[]} [apiOrigins] other origins that get the access token, e.g. ["https://api.example.com"]
 * @property {RequestCredentials} [credentials] "same-origin" (default) or "include" for another origin
 * @property {number} [lockTimeoutMs] how long to wait for another tab's refresh (default 10 s)
 * @property {number} [refreshTimeoutMs] abort a refresh after this long (default 10 s)
 * @property {boolean} [proactive] run the refresh timer in the visible tab (default true)
 * @property {typeof fetch} [fetch] for tests
 * @property {() => number} [now] for tests (ms since the epoch)
 * @property {{request: Function} | null} [locks] for tests; default navigator.locks
 * @property {BroadcastChannel | null} [channel] for tests; default a BroadcastChannel
 * @property {{setTimeout: Function, clearTimeout: Function}} [timers] for tests
 * @property {Storage | null} [storage] for tests; default localStorage (holds a time, no token)
 * @property {string} [pageUrl] for tests; default the page's origin, relative URLs resolved against its base
 */

/**
 * Create a client for one Tessera auth server.
 * @param {AuthOptions} [options]
 */
export function createAuth(options = {}) {
  const baseUrl = (options.baseUrl ?? "/auth").replace(/\/$/, "");
  const credentials = options.credentials ?? "same-origin";
  const lockTimeoutMs = options.lockTimeoutMs ?? 10_000;
  const refreshTimeoutMs = options.refreshTimeoutMs ?? 10_000;
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  const now = options.now ?? (() => Date.now());
  const timers = options.timers ?? globalThis;
  const locks =
    options.locks !== undefined ? options.locks : globalThis.navigator?.locks ?? null;
  const channel =
    options.channel !== undefined
      ? options.channel
      : typeof BroadcastChannel !== "undefined"
        ? new BroadcastChannel(`tessera:${baseUrl}`)
        : null;
  const hasDocument = typeof document !== "undefined";
  // Set (to a time, never a token) inside the refresh lock: a tab that gets the lock right
  // after another tab's refresh knows to wait for that tab's broadcast instead of rotating again.
  const storage = options.storage !== undefined ? options.storage : globalThis.localStorage ?? null;
  const marker = `tessera:refreshed:${baseUrl}`;
  const proactive = (options.proactive ?? true) && hasDocument;
  // The page's own origin is its location's: a `<base href>` pointing elsewhere earns no token.
  const ownOrigin = options.pageUrl ? new URL(options.pageUrl).origin : globalThis.location?.origin;
  const origins = trustedOrigins(options.apiOrigins ?? [], ownOrigin);

  /** @type {{token: string, localExp: number, lifetime: number, sessionId: string|null} | null} */
  let current = null;
  let generation = 0; // bumps with every new access token, here or from another tab
  let epoch = 0; // bumps on login and logout: a refresh begun before them is discarded
  let loggedOut = false; // /refresh said 401: no refreshes until a login
  /** @type {Promise<void> | null} */
  let inflight = null;
  let failures = 0;
  let notBefore = 0; // back-off: no refresh attempt before this time
  /** @type {any} */
  let timer = null;
  /** @type {Map<string, Set<Function>>} */
  const listeners = new Map();
  /** @type {Set<() => void>} */
  const generationWaiters = new Set();

  function bumpGeneration() {
    generation += 1;
    for (const wake of generationWaiters) wake();
    generationWaiters.clear();
  }

  /** Resolve when the generation changes, or after `ms`. @param {number} ms */
  function generationChange(ms) {
    return new Promise((resolve) => {
      const done = () => {
        timers.clearTimeout(handle);
        generationWaiters.delete(done);
        resolve(undefined);
      };
      const handle = timers.setTimeout(done, ms);
      generationWaiters.add(done);
    });
  }

  /** @param {string} event @param {any} detail */
  function emit(event, detail) {
    for (const fn of listeners.get(event) ?? []) {
      try {
        fn(detail);
      } catch (error) {
        console.error("tessera: listener failed", error);
      }
    }
  }

  function leadMs() {
    return current ? Math.min(MAX_LEAD_MS, current.lifetime / 3) : 0;
  }

  function fresh() {
    return current !== null && now() < current.localExp - leadMs();
  }

  function usable() {
    return current !== null && now() < current.localExp;
  }

  /**
   * Take a token response; expiry anchored at receipt (local clock), never the raw `exp`.
   * @param {any} body @param {number} receivedAt
   */
  function install(body, receivedAt) {
    const claims = lifetimeOf(body.access_token);
    const lifetime = claims ? claims.lifetimeMs : Number(body.expires_in) * 1000;
    current = {
      token: body.access_token,
      localExp: receivedAt + lifetime,
      lifetime,
      sessionId: body.session_id ?? null,
    };
    bumpGeneration();
    failures = 0;
    notBefore = 0;
    if (claims) emit("trace", { type: "skew", skewMs: claims.iatMs - receivedAt });
    schedule();
  }

  /** @param {string} reason @param {boolean} tell whether to tell the other tabs */
  function end(reason, tell) {
    const had = current !== null; // no event when there was no session (a first visit)
    current = null;
    loggedOut = true;
    bumpGeneration();
    epoch += 1;
    unschedule();
    if (tell) channel?.postMessage({ type: "logout", reason });
    if (had) emit("logout", { reason });
  }

  // cross-tab ------------------------------------------------------------------------------

  if (channel) {
    channel.onmessage = (event) => {
      const message = event.data;
      if (message?.type === "token" && typeof message.token === "string") {
        current = {
          token: message.token,
          localExp: message.localExp,
          lifetime: message.lifetime,
          sessionId: message.sessionId ?? null,
        };
        bumpGeneration();
        loggedOut = false;
        failures = 0;
        notBefore = 0;
        schedule();
        emit("trace", { type: "broadcast-received", localExp: message.localExp });
        emit("refreshed", { expiresAt: message.localExp, fromOtherTab: true });
      } else if (message?.type === "logout") {
        emit("trace", { type: "broadcast-logout" });
        end(message.reason ?? "logout", false);
      }
    };
  }

  function share() {
    if (current) {
      channel?.postMessage({
        type: "token",
        token: current.token,
        localExp: current.localExp,
        lifetime: current.lifetime,
        sessionId: current.sessionId,
      });
    }
  }

  /**
   * Run `work` holding the cross-tab refresh lock (bounded wait), or directly without Web Locks.
   * @param {() => Promise<void>} work
   */
  async function exclusive(work) {
    if (!locks) return work();
    const controller = new AbortController();
    const giveUp = timers.setTimeout(() => controller.abort(), lockTimeoutMs);
    try {
      return await locks.request(`tessera-refresh:${baseUrl}`, { signal: controller.signal }, async () => {
        timers.clearTimeout(giveUp);
        await work();
      });
    } catch (error) {
      if (controller.signal.aborted) throw new TransientError("another tab's refresh did not finish");
      throw error;
    } finally {
      timers.clearTimeout(giveUp);
    }
  }

  // refresh --------------------------------------------------------------------------------

  async function refreshOnce() {
    const startEpoch = epoch;
    const startGeneration = generation;
    const waitStart = now();
    await exclusive(async () => {
      // Another tab may have refreshed while we waited for the lock: its token is posted on
      // the channel, and may still be on its way.
      const last = Number(storage?.getItem(marker) ?? 0);
      if (generation === startGeneration && last >= waitStart) await generationChange(1_000);
      if (generation !== startGeneration && fresh()) return;
      if (epoch !== startEpoch || loggedOut) return;
      emit("trace", { type: "refresh-start" });
      const controller = new AbortController();
      const abort = timers.setTimeout(() => controller.abort(), refreshTimeoutMs);
      let response;
      try {
        response = await doFetch(`${baseUrl}/refresh`, {
          method: "POST",
          credentials,
          headers: { "X-Tessera-CSRF": "1" },
          signal: controller.signal,
        });
      } catch (error) {
        throw new TransientError(`refresh failed: ${error?.message ?? error}`);
      } finally {
        timers.clearTimeout(abort);
      }
      if (epoch !== startEpoch) return; // logged out (or in) meanwhile: discard the result
      if (response.ok) {
        install(await response.json(), now());
        storage?.setItem(marker, String(now()));
        share();
        emit("trace", { type: "refresh-done", status: response.status });
        emit("refreshed", { expiresAt: current?.localExp, fromOtherTab: false });
        return;
      }
      emit("trace", { type: "refresh-done", status: response.status });
      if (response.status === 401) {
        end("session_ended", true);
        return;
      }
      throw new TransientError(
        `refresh failed with ${response.status}`,
        response.status,
        retryAfterMs(response),
      );
    });
  }

  /** One refresh for everyone in this tab who asks while it runs. */
  function refresh() {
    if (loggedOut) return Promise.resolve();
    if (now() < notBefore) {
      return Promise.reject(new TransientError("backing off after a failed refresh", 0, notBefore - now()));
    }
    if (!inflight) {
      inflight = refreshOnce()
        .catch((error) => {
          if (error instanceof TransientError) {
            const wait = Math.max(error.retryAfterMs, BACKOFF_MS[Math.min(failures, BACKOFF_MS.length - 1)]);
            failures += 1;
            notBefore = now() + wait;
            emit("error", { error, retryInMs: wait });
            retryLater(wait);
          }
          throw error;
        })
        .finally(() => {
          inflight = null;
        });
    }
    return inflight;
  }

  // timer: only the visible tab refreshes ahead of time --------------------------------------

  function unschedule() {
    if (timer !== null) timers.clearTimeout(timer);
    timer = null;
  }

  /** @param {number} delay */
  function arm(delay) {
    unschedule();
    timer = timers.setTimeout(() => {
      timer = null;
      check();
    }, Math.min(Math.max(0, delay), MAX_TIMEOUT_MS));
  }

  function schedule() {
    if (!proactive || !current) return;
    arm(current.localExp - leadMs() - now());
  }

  /** @param {number} delay */
  function retryLater(delay) {
    if (proactive && !loggedOut) arm(delay);
  }

  /** Refresh now if this tab is visible and the token is (nearly) stale; else re-arm. */
  function check() {
    if (!hasDocument || loggedOut || current === null) return;
    if (document.visibilityState !== "visible") return; // hidden tabs refresh on demand
    if (fresh()) {
      schedule();
      return;
    }
    refresh().catch(() => {});
  }

  if (proactive && typeof addEventListener === "function") {
    for (const name of ["visibilitychange", "pageshow", "online", "focus"]) {
      addEventListener(name, check);
    }
  }

  // public API -----------------------------------------------------------------------------

  /**
   * Before sending, make sure the token is fresh (a transient failure is fine while the old
   * token is still valid).
   */
  async function ensureFresh() {
    if (loggedOut || fresh()) return;
    try {
      await refresh();
    } catch (error) {
      if (!(error instanceof TransientError) || !usable()) throw error;
    }
  }

  /**
   * May a request to `input` carry the token? Only to the page's origin or a listed one.
   * Relative URLs resolve as fetch resolves them, against the document's base URL as it is
   * now (a `<base>` may come and go).
   * @param {RequestInfo | URL | string} input
   */
  function trusted(input) {
    const base = options.pageUrl ?? globalThis.document?.baseURI ?? globalThis.location?.href;
    const url = parseUrl(input instanceof Request ? input.url : String(input), base);
    return url !== null && origins.has(url.origin); // unresolvable: fetch will say why
  }

  /**
   * @param {RequestInfo | URL} input @param {RequestInit} init @param {string | null} token
   */
  function send(input, init, token) {
    const headers = new Headers(
      init.headers ?? (input instanceof Request ? input.headers : undefined),
    );
    if (token) headers.set("Authorization", `Bearer ${token}`);
    const request = input instanceof Request ? input.clone() : input;
    return doFetch(request, { ...init, headers });
  }

  return {
    /**
     * Log in; the refresh token arrives as an HttpOnly cookie.
     * @param {string} username @param {string} password
     */
    async login(username, password) {
      const response = await doFetch(`${baseUrl}/login`, {
        method: "POST",
        credentials,
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ username, password, transport: "cookie" }),
      });
      const body = await response.json().catch(() => ({}));
      if (!response.ok) {
        throw new LoginError(body.error ?? "error", body.error_description ?? "", response.status);
      }
      epoch += 1;
      loggedOut = false;
      install(body, now());
      share();
      emit("login", { sessionId: current?.sessionId });
    },

    /**
     * Restore the session after a page load through the refresh cookie. Resolves to whether
     * there is a session.
     */
    async restore() {
      loggedOut = false;
      try {
        await refresh();
      } catch {
        /* transient: the session may still exist; `error` was emitted */
      }
      return current !== null;
    },

    /**
     * `fetch` with the access token: refreshed ahead of expiry, and once on a 401. A request
     * to another origin than the page's or a listed one goes out untouched: no token, no
     * refresh, no retry.
     * @param {RequestInfo | URL} input @param {RequestInit} [init]
     */
    async fetch(input, init = {}) {
      if (!trusted(input)) {
        const response = await doFetch(input, init);
        emit("trace", { type: "request", url: String(input instanceof Request ? input.url : input), status: response.status });
        return response;
      }
      await ensureFresh();
      const used = generation;
      const canReplay = replayable(input, init);
      const first = await send(input, init, current?.token ?? null);
      emit("trace", { type: "request", url: String(input instanceof Request ? input.url : input), status: first.status });
      const challenge = first.headers.get("www-authenticate") ?? "";
      if (first.status !== 401 || !challenge.includes("invalid_token") || loggedOut) return first;
      if (first.url && !trusted(first.url)) return first; // redirected elsewhere: not our token's 401
      if (!canReplay) {
        if (generation === used) current = current && { ...current, localExp: 0 };
        return first;
      }
      if (generation === used) await refresh(); // else another caller refreshed already
      if (!current) return first; // the session ended
      const second = await send(input, init, current.token);
      emit("trace", { type: "retry", url: String(input instanceof Request ? input.url : input), status: second.status });
      return second;
    },

    /** End the session on the server and in every tab. */
    async logout() {
      try {
        await doFetch(`${baseUrl}/logout`, {
          method: "POST",
          credentials,
          headers: { "X-Tessera-CSRF": "1" },
        });
      } finally {
        end("logout", true);
      }
    },

    /**
     * Listen to "refreshed", "logout", "error", "login" (and "trace" for diagnostics).
     * @param {string} event @param {(detail: any) => void} fn
     * @returns {() => void} unsubscribe
     */
    on(event, fn) {
      if (!listeners.has(event)) listeners.set(event, new Set());
      listeners.get(event)?.add(fn);
      return () => listeners.get(event)?.delete(fn);
    },

    /** The current access token's local expiry (ms since the epoch), or null. */
    get expiresAt() {
      return current?.localExp ?? null;
    },

    /** The current access token (for display and debugging; send requests with `fetch`). */
    get accessToken() {
      return current?.token ?? null;
    },

    get sessionId() {
      return current?.sessionId ?? null;
    },

    /** Stop timers and listeners (for single-page apps that tear the client down). */
    close() {
      unschedule();
      if (proactive && typeof removeEventListener === "function") {
        for (const name of ["visibilitychange", "pageshow", "online", "focus"]) {
          removeEventListener(name, check);
        }
      }
      channel?.close();
    },
  };
}
