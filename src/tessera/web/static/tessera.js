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
 * DPoP (RFC 9449) by default where WebCrypto and IndexedDB exist: a login makes a
 * non-extractable P-256 key, kept in IndexedDB for every tab, and binds the session to it;
 * login, refresh and each request carry a proof by it, so a copied cookie or token is
 * useless elsewhere.
 *
 * Its parts are modules under `tessera/` (served at `{prefix}/tessera/NAME`): the state and
 * its transitions (`state.js`), the cross-tab messages and lock (`tabs.js`), how requests go
 * out (`requests.js`), DPoP (`dpop.js`, `keys.js`, `prover.js`), the axios adapter
 * (`axios.js`), "your devices" (`devices.js`), options, origins, HTTP helpers and errors.
 *
 * @module tessera
 */

import { attachAxios } from "./tessera/axios.js";
import { createDevices } from "./tessera/devices.js";
import { LoginError, RequestError, TransientError } from "./tessera/errors.js";
import { rejectsToken, replayable, retryAfterMs, urlOf } from "./tessera/http.js";
import { configure } from "./tessera/options.js";
import { createRequests } from "./tessera/requests.js";
import * as State from "./tessera/state.js";
import { exclusive, logoutMessage, readMessage, tokenMessage } from "./tessera/tabs.js";

export { LoginError, RequestError, TransientError };

const MAX_TIMEOUT_MS = 2 ** 31 - 1; // setTimeout overflows past this
// After another tab's refresh (the marker names a token newer than ours), how long its token
// may take to arrive on the channel before we refresh ourselves. The marker proves the message
// is on its way; a busy machine can delay it well past a second, and refreshing then would
// rotate the session twice for one expiry.
const HANDOVER_WAIT_MS = 5_000;
const WAKE_EVENTS = ["visibilitychange", "pageshow", "online", "focus"];

/**
 * Create a client for one Tessera auth server.
 * @param {import("./tessera/options.js").AuthOptions} [options]
 */
export function createAuth(options = {}) {
  const config = configure(options);
  const { baseUrl, lockTimeoutMs, refreshTimeoutMs, doFetch, now, timers } = config;
  const { locks, channel, hasDocument, storage, marker, proactive, prover } = config;
  const { trusted, post, send, absolute, authorization, remember } = createRequests(config, options.pageUrl);
  const lockName = `tessera-refresh:${baseUrl}`;

  /** Everything a request reads, one frozen snapshot: replaced whole by `swap`, never edited. */
  let state = State.INITIAL;
  /** @type {Promise<void> | null} */
  let inflight = null;
  /** @type {any} */
  let timer = null;
  /** @type {Map<string, Set<Function>>} */
  const listeners = new Map();
  /** @type {Set<() => void>} */
  const generationWaiters = new Set();

  /** Replace the state; wake whoever waits for a new generation. @param {Readonly<State.State>} next */
  function swap(next) {
    const changed = next.generation !== state.generation;
    state = next;
    if (!changed) return;
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

  /**
   * The one way a new access token comes in: this tab's login or refresh, or another tab's
   * hand-over.
   * @param {State.Session} session @param {typeof State.installed} [transition]
   */
  function install(session, transition = State.installed) {
    swap(transition(state, session));
    schedule();
  }

  /** A token response, installed. @param {any} body @param {typeof State.installed} [transition] */
  function installResponse(body, transition) {
    const { session, skewMs } = State.sessionOf(body, now());
    install(session, transition);
    if (skewMs !== null) emit("trace", { type: "skew", skewMs });
  }

  /** @param {string} reason @param {boolean} tell whether to tell the other tabs */
  function end(reason, tell) {
    const had = state.session !== null; // no event when there was no session (a first visit)
    swap(State.ended(state));
    unschedule();
    if (tell) channel?.postMessage(logoutMessage(reason));
    if (had) emit("logout", { reason });
  }

  // cross-tab ------------------------------------------------------------------------------

  if (channel) {
    channel.onmessage = (event) => {
      const message = readMessage(event.data);
      if (message?.type === "token") {
        install(message.session);
        emit("trace", { type: "broadcast-received", localExp: message.session.localExp });
        emit("refreshed", { expiresAt: message.session.localExp, fromOtherTab: true });
      } else if (message?.type === "logout") {
        emit("trace", { type: "broadcast-logout" });
        end(message.reason, false);
      }
    };
  }

  function share() {
    if (state.session) channel?.postMessage(tokenMessage(state.session));
  }

  // refresh --------------------------------------------------------------------------------

  async function refreshOnce() {
    const start = state;
    await exclusive(locks, lockName, timers, lockTimeoutMs, async () => {
      // Another tab may have refreshed before us — while we waited for the lock, or just
      // before our timer fired: the marker holds the expiry of the newest token a refresh
      // installed, and when that is later than ours, its token is on its way on the channel.
      const newest = Number(storage?.getItem(marker) ?? 0);
      const ours = state.session?.localExp ?? 0;
      if (state.generation === start.generation && newest > ours) await generationChange(HANDOVER_WAIT_MS);
      if (state.generation !== start.generation && State.fresh(state, now())) return;
      if (state.epoch !== start.epoch || state.ended) return;
      emit("trace", { type: "refresh-start" });
      const controller = new AbortController();
      const abort = timers.setTimeout(() => controller.abort(), refreshTimeoutMs);
      let response;
      try {
        // The stored key, read afresh: the cookie may be another tab's newer login's.
        const key = (await prover?.keyFor(null)) ?? null;
        response = await post("/refresh", { headers: { "X-Tessera-CSRF": "1" }, signal: controller.signal }, key);
      } catch (error) {
        throw new TransientError(`refresh failed: ${error?.message ?? error}`);
      } finally {
        timers.clearTimeout(abort);
      }
      if (state.epoch !== start.epoch) return; // logged out (or in) meanwhile: discard the result
      if (response.ok) {
        installResponse(await response.json());
        storage?.setItem(marker, String(state.session?.localExp ?? 0));
        share();
        emit("trace", { type: "refresh-done", status: response.status });
        emit("refreshed", { expiresAt: state.session?.localExp, fromOtherTab: false });
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
    if (state.ended) return Promise.resolve();
    if (now() < state.notBefore) {
      return Promise.reject(new TransientError("backing off after a failed refresh", 0, state.notBefore - now()));
    }
    if (!inflight) {
      inflight = refreshOnce()
        .catch((error) => {
          if (error instanceof TransientError) {
            const wait = State.backoffMs(state, error.retryAfterMs);
            swap(State.backedOff(state, now() + wait));
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
    const { session } = state;
    if (!proactive || !session) return;
    arm(session.localExp - State.leadMs(session) - now());
  }

  /** @param {number} delay */
  function retryLater(delay) {
    if (proactive && !state.ended) arm(delay);
  }

  /** Refresh now if this tab is visible and the token is (nearly) stale; else re-arm. */
  function check() {
    if (!hasDocument || state.ended || state.session === null) return;
    if (document.visibilityState !== "visible") return; // hidden tabs refresh on demand
    if (State.fresh(state, now())) {
      schedule();
      return;
    }
    refresh().catch(() => {});
  }

  if (proactive && typeof addEventListener === "function") {
    for (const name of WAKE_EVENTS) addEventListener(name, check);
  }

  // public API -----------------------------------------------------------------------------

  /**
   * Before sending, make sure the token is fresh (a transient failure is fine while the old
   * token is still valid).
   */
  async function ensureFresh() {
    if (state.ended || State.fresh(state, now())) return;
    try {
      await refresh();
    } catch (error) {
      if (!(error instanceof TransientError) || !State.usable(state, now())) throw error;
    }
  }

  /**
   * `auth.fetch`'s path; `trust`: may this request carry the token (the page's origin, a
   * listed one, or the auth server itself for the client's own calls).
   * @param {RequestInfo | URL} input @param {RequestInit} init @param {boolean} trust
   */
  async function authorizedFetch(input, init, trust) {
    if (!trust) {
      const response = await doFetch(input, init);
      emit("trace", { type: "request", url: urlOf(input), status: response.status });
      return response;
    }
    await ensureFresh();
    const sent = state;
    const canReplay = replayable(input, init);
    const first = await send(input, init, sent.session, canReplay);
    emit("trace", { type: "request", url: urlOf(input), status: first.status });
    if (!rejectsToken(first) || state.ended) return first;
    if (first.url && !trusted(first.url)) return first; // redirected elsewhere: not our token's 401
    if (!canReplay) {
      if (state.generation === sent.generation) swap(State.rejected(state));
      return first;
    }
    if (state.generation === sent.generation) await refresh(); // else another caller refreshed already
    if (!state.session) return first; // the session ended
    const second = await send(input, init, state.session, canReplay);
    emit("trace", { type: "retry", url: urlOf(input), status: second.status });
    return second;
  }

  /** What `auth.axios` needs from this client. @type {import("./tessera/axios.js").Core} */
  const axiosCore = { trusted, absolute, ensureFresh, refresh, state: () => state, authorization, remember, emit };
  const attachedAxios = new WeakSet();
  const devices = createDevices({
    baseUrl,
    send: (url, init) => authorizedFetch(url, init, true), // the auth server: its own token's home
    sessionId: () => state.session?.sessionId ?? null,
    logout: () => client.logout(),
  });

  const client = {
    /**
     * Log in; the refresh token arrives as an HttpOnly cookie. With DPoP, a new key is made
     * and the session bound to it. Under the refresh lock, so that no tab refreshes the new
     * session's cookie before the new key is stored for every tab.
     * @param {string} username @param {string} password
     */
    async login(username, password) {
      await exclusive(locks, lockName, timers, lockTimeoutMs, async () => {
        const key = (await prover?.fresh().catch(() => null)) ?? null; // none: Bearer, as before
        const body = JSON.stringify({ username, password, transport: "cookie" });
        const response = await post("/login", { headers: { "Content-Type": "application/json" }, body }, key);
        const answer = await response.json().catch(() => ({}));
        if (!response.ok) {
          throw new LoginError(answer.error ?? "error", answer.error_description ?? "", response.status);
        }
        if (key) await (answer.token_type === "DPoP" ? prover?.adopt(key) : prover?.forget());
        installResponse(answer, State.loggedIn);
        share();
      });
      emit("login", { sessionId: state.session?.sessionId, scheme: state.session?.scheme });
    },

    /**
     * Restore the session after a page load through the refresh cookie. Resolves to whether
     * there is a session.
     */
    async restore() {
      swap(State.resumed(state));
      try {
        await refresh();
      } catch {
        /* transient: the session may still exist; `error` was emitted */
      }
      return state.session !== null;
    },

    /**
     * `fetch` with the access token: refreshed ahead of expiry, and once on a 401. A request
     * to another origin than the page's or a listed one goes out untouched: no token, no
     * refresh, no retry.
     * @param {RequestInfo | URL} input @param {RequestInit} [init]
     */
    fetch(input, init = {}) {
      return authorizedFetch(input, init, trusted(input));
    },

    /**
     * The same for an axios instance, through its interceptors; returns the instance.
     * @template T @param {T} instance @returns {T}
     */
    axios(instance) {
      return attachAxios(instance, axiosCore, attachedAxios);
    },

    ...devices,

    /** End the session on the server and in every tab (proven by the key, as a refresh is). */
    async logout() {
      try {
        await post("/logout", { headers: { "X-Tessera-CSRF": "1" } }, (await prover?.keyFor(null)) ?? null);
      } finally {
        end("logout", true);
        await prover?.forget(); // the session's key has no use any more
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
      return state.session?.localExp ?? null;
    },

    /** The current access token (for display and debugging; send requests with `fetch`). */
    get accessToken() {
      return state.session?.token ?? null;
    },

    get sessionId() {
      return state.session?.sessionId ?? null;
    },

    /** Stop timers and listeners (for single-page apps that tear the client down). */
    close() {
      unschedule();
      if (proactive && typeof removeEventListener === "function") {
        for (const name of WAKE_EVENTS) removeEventListener(name, check);
      }
      channel?.close();
    },
  };
  return client;
}
