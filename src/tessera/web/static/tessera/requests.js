/**
 * How the client's requests go out: where a URL points, which origins may have the access
 * token, and the token itself — as Bearer, or as DPoP with a fresh proof by the session's key
 * (sent once more with the nonce a server asks for).
 * @module tessera/requests
 */

import { methodOf, sendWith, urlOf } from "./http.js";
import { parseUrl } from "./origins.js";

/** @typedef {import("./state.js").Session} Session */
/** @typedef {import("./dpop.js").ProofKey} ProofKey */

/**
 * @param {ReturnType<typeof import("./options.js").configure>} config
 * @param {string | undefined} pageUrl for tests: the page's URL
 */
export function createRequests({ baseUrl, credentials, doFetch, origins, prover }, pageUrl) {
  /** What relative URLs resolve against, as fetch resolves them: the document's base URL as it is now (a `<base>` may come and go). */
  function pageBase() {
    return pageUrl ?? globalThis.document?.baseURI ?? globalThis.location?.href;
  }

  /** The absolute URL a request goes to; null when it does not resolve. @param {RequestInfo | URL} input */
  function absolute(input) {
    return parseUrl(urlOf(input), pageBase());
  }

  return {
    /** May a request to `input` carry the token? Only to the page's origin or a listed one. @param {RequestInfo | URL} input */
    trusted(input) {
      const url = absolute(input);
      return url !== null && origins.has(url.origin); // unresolvable: fetch will say why
    },

    /**
     * A POST to the auth server with a DPoP proof by `key`, if any.
     * @param {string} path @param {RequestInit & {headers: Record<string, string>}} init
     * @param {ProofKey | null} key
     */
    post(path, init, key) {
      const url = `${baseUrl}${path}`;
      /** @param {string | null} proof */
      const transmit = (proof) =>
        doFetch(url, { ...init, method: "POST", credentials, headers: { ...init.headers, ...(proof ? { DPoP: proof } : {}) } });
      const target = absolute(url);
      return prover && target ? prover.send(transmit, { method: "POST", url: target.href, key }) : transmit(null);
    },

    absolute,

    /**
     * The headers that carry the session's token to `url` with `method` — a DPoP proof by its
     * key included — for a request something else sends (the axios adapter).
     * @param {Readonly<Session>} session @param {string} method @param {string} url absolute
     * @returns {Promise<Record<string, string>>}
     */
    async authorization(session, method, url) {
      const { token, scheme, jkt } = session;
      if (scheme !== "DPoP" || !prover) return { Authorization: `${scheme} ${token}` };
      const key = await prover.keyFor(jkt);
      const proof = key ? await prover.prove({ method, url, key, accessToken: token }) : null;
      return { Authorization: `DPoP ${token}`, ...(proof ? { DPoP: proof } : {}) };
    },

    /** Keep the DPoP nonce an answer from `url` carries. @param {string} url @param {string | null | undefined} nonce */
    remember(url, nonce) {
      prover?.remember(url, nonce);
    },

    /**
     * `input` with the session's access token: as Bearer, or as DPoP with a proof by the key
     * it is bound to (a nonce retry only if the body can be sent again).
     * @param {RequestInfo | URL} input @param {RequestInit} init
     * @param {Readonly<Session> | null} session @param {boolean} canReplay
     */
    async send(input, init, session, canReplay) {
      if (!session) return sendWith(doFetch, input, init, {});
      const { token, scheme, jkt } = session;
      const url = absolute(input);
      if (scheme !== "DPoP" || !prover || !url) return sendWith(doFetch, input, init, { Authorization: `${scheme} ${token}` });
      const key = await prover.keyFor(jkt);
      /** @param {string | null} proof */
      const transmit = (proof) =>
        sendWith(doFetch, input, init, { Authorization: `DPoP ${token}`, ...(proof ? { DPoP: proof } : {}) });
      return prover.send(transmit, { method: methodOf(input, init), url: url.href, key, accessToken: token, retry: canReplay });
    },
  };
}
