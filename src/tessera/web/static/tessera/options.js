/**
 * `createAuth`'s options, with their defaults filled in.
 * @module tessera/options
 */

import { indexedDbKeys } from "./keys.js";
import { trustedOrigins } from "./origins.js";
import { createProver } from "./prover.js";

/**
 * @typedef {object} AuthOptions
 * @property {string} [baseUrl] the auth prefix, default "/auth"
 * @property {string[]} [apiOrigins] other origins that get the access token, e.g. ["https://api.example.com"]
 * @property {RequestCredentials} [credentials] "same-origin" (default) or "include" for another origin
 * @property {number} [lockTimeoutMs] how long to wait for another tab's refresh (default 10 s)
 * @property {number} [refreshTimeoutMs] abort a refresh after this long (default 10 s)
 * @property {boolean} [proactive] run the refresh timer in the visible tab (default true)
 * @property {boolean} [dpop] bind the session to a key with DPoP where WebCrypto and IndexedDB
 *   exist (default true); false sends Bearer tokens
 * @property {import("./keys.js").KeyStore | null} [keys] for tests; default IndexedDB
 * @property {typeof fetch} [fetch] for tests
 * @property {() => number} [now] for tests (ms since the epoch)
 * @property {{request: Function} | null} [locks] for tests; default navigator.locks
 * @property {BroadcastChannel | null} [channel] for tests; default a BroadcastChannel
 * @property {{setTimeout: Function, clearTimeout: Function}} [timers] for tests
 * @property {Storage | null} [storage] for tests; default localStorage (holds a time, no token)
 * @property {string} [pageUrl] for tests; default the page's origin, relative URLs resolved against its base
 */

/** @param {AuthOptions} options */
export function configure(options) {
  const baseUrl = (options.baseUrl ?? "/auth").replace(/\/$/, "");
  const hasDocument = typeof document !== "undefined";
  // The page's own origin is its location's: a `<base href>` pointing elsewhere earns no token.
  const ownOrigin = options.pageUrl ? new URL(options.pageUrl).origin : globalThis.location?.origin;
  const now = options.now ?? (() => Date.now());
  return {
    baseUrl,
    credentials: options.credentials ?? "same-origin",
    lockTimeoutMs: options.lockTimeoutMs ?? 10_000,
    refreshTimeoutMs: options.refreshTimeoutMs ?? 10_000,
    doFetch: options.fetch ?? globalThis.fetch.bind(globalThis),
    now,
    timers: options.timers ?? globalThis,
    locks: options.locks !== undefined ? options.locks : globalThis.navigator?.locks ?? null,
    channel:
      options.channel !== undefined
        ? options.channel
        : typeof BroadcastChannel !== "undefined"
          ? new BroadcastChannel(`tessera:${baseUrl}`)
          : null,
    hasDocument,
    // Set (to the new token's expiry time, never a token) inside the refresh lock: a tab whose
    // token is older than the marker's knows to wait for that tab's broadcast, not rotate again.
    storage: options.storage !== undefined ? options.storage : globalThis.localStorage ?? null,
    marker: `tessera:refreshed:${baseUrl}`,
    proactive: (options.proactive ?? true) && hasDocument,
    origins: trustedOrigins(options.apiOrigins ?? [], ownOrigin),
    prover: options.dpop === false ? null : proverFor(baseUrl, options.keys, now),
  };
}

/**
 * DPoP where the browser can keep a key: WebCrypto (secure contexts only) and IndexedDB.
 * @param {string} baseUrl @param {import("./keys.js").KeyStore | null | undefined} keys
 * @param {() => number} now
 */
function proverFor(baseUrl, keys, now) {
  const subtle = globalThis.crypto?.subtle;
  const store = keys !== undefined ? keys : globalThis.indexedDB ? indexedDbKeys(globalThis.indexedDB) : null;
  return subtle && store ? createProver({ subtle, keys: store, slot: baseUrl, now }) : null;
}
