/**
 * The client's DPoP side: which key proves this tab's requests, the latest server nonce per
 * origin, and sending a request with a fresh proof — once more, with the nonce, when the
 * server answers `use_dpop_nonce`.
 * @module tessera/prover
 */

import { generateKey, makeProof } from "./dpop.js";

/** @typedef {import("./dpop.js").ProofKey} ProofKey */

/**
 * Does this response ask for the proof again with the nonce it carries (RFC 9449 §8, §9)?
 * A token endpoint says so in a 400's body, a resource in its 401's challenge.
 * @param {Response} response
 */
export async function asksForNonce(response) {
  if (!response.headers.get("dpop-nonce")) return false; // nothing new to retry with
  if (response.status === 401) return (response.headers.get("www-authenticate") ?? "").includes("use_dpop_nonce");
  if (response.status !== 400) return false;
  const body = await response.clone().json().catch(() => null);
  return body?.error === "use_dpop_nonce";
}

/**
 * @param {{subtle: SubtleCrypto, keys: import("./keys.js").KeyStore, slot: string, now: () => number}} deps
 */
export function createProver({ subtle, keys, slot, now }) {
  /** The key this tab used or loaded last. @type {ProofKey | null} */
  let cached = null;
  /** @type {Promise<ProofKey | null> | null} */
  let loading = null;
  /** @type {Map<string, string>} origin → the latest DPoP-Nonce it sent */
  const nonces = new Map();

  /**
   * The stored key (one read for all who ask at once); the one in memory when storage fails
   * or holds none (a key this tab could not store).
   */
  function stored() {
    loading ??= keys
      .load(slot)
      .then((key) => (cached = key ?? cached))
      .catch(() => cached)
      .finally(() => {
        loading = null;
      });
    return loading;
  }

  /** @param {{method: string, url: string, key: ProofKey, accessToken?: string | null}} request */
  function prove({ method, url, key, accessToken = null }) {
    const nonce = nonces.get(new URL(url).origin) ?? null;
    return makeProof(subtle, key, { method, url, accessToken, nonce, iat: now() / 1000 });
  }

  /** @param {string} url @param {string | null | undefined} nonce */
  function remember(url, nonce) {
    if (nonce) nonces.set(new URL(url).origin, nonce);
  }

  return {
    /** A new key for a login; kept (`adopt`) only once a session is bound to it. */
    fresh: () => generateKey(subtle),

    /**
     * The key a session is now bound to, for every tab. Should storage fail, this tab still
     * holds it in memory and goes on; the other tabs (and a reload) cannot refresh then.
     * @param {ProofKey} key
     */
    async adopt(key) {
      cached = key;
      await keys.save(slot, key).catch(() => {});
    },

    /** The session is over: its key has no use any more. */
    async forget() {
      cached = null;
      await keys.remove(slot).catch(() => {});
    },

    /**
     * The key for an access token bound to `jkt`; with none (a refresh, whose cookie may be
     * another tab's newer login), the stored key, read afresh.
     * @param {string | null} jkt @returns {Promise<ProofKey | null>}
     */
    async keyFor(jkt) {
      if (jkt && cached?.jkt === jkt) return cached;
      return stored();
    },

    /**
     * A proof for one request by `key`, with the latest nonce `url`'s origin gave (for a
     * client that sends the request itself: the axios adapter).
     * @param {{method: string, url: string, key: ProofKey, accessToken?: string | null}} request
     */
    prove,

    /** Keep the nonce an answer from `url` carries, if any. @param {string} url @param {string | null | undefined} nonce */
    remember,

    /**
     * `transmit(proof)` with a proof for this request by `key` (no proof without a key); once
     * more with a fresh proof when the server asks for a nonce and `retry` allows it.
     * @param {(proof: string | null) => Promise<Response>} transmit
     * @param {{method: string, url: string, key: ProofKey | null, accessToken?: string | null, retry?: boolean}} request
     */
    async send(transmit, { method, url, key, accessToken = null, retry = true }) {
      const attempt = async () => {
        const proof = key && (await prove({ method, url, key, accessToken }));
        const response = await transmit(proof);
        remember(url, response.headers.get("dpop-nonce"));
        return response;
      };
      const first = await attempt();
      if (!key || !retry || !(await asksForNonce(first))) return first;
      return attempt();
    },
  };
}
