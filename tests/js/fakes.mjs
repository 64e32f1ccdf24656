// What the browser client's unit tests share: tokens, a manual clock, and tabs of one browser.

import { createHash } from "node:crypto";

export const TTL = 600; // seconds

/** A JWT-shaped token whose claims say iat/exp (unsigned: the client never verifies). */
export function token(iat, ttl = TTL, n = 0) {
  const b64 = (v) => Buffer.from(JSON.stringify(v)).toString("base64url");
  return `${b64({ alg: "RS256", typ: "at+jwt" })}.${b64({ iat, exp: iat + ttl, n })}.sig`;
}

/** Manual clock and timers: time moves only when the test says so. */
export function fakeTime(start = 1_800_000_000_000) {
  let now = start;
  let id = 0;
  const pending = new Map();
  return {
    now: () => now,
    timers: {
      setTimeout(fn, ms) {
        pending.set(++id, { at: now + ms, fn });
        return id;
      },
      clearTimeout(handle) {
        pending.delete(handle);
      },
    },
    async advance(ms) {
      now += ms;
      for (const [handle, t] of [...pending]) {
        if (t.at <= now) {
          pending.delete(handle);
          t.fn();
        }
      }
      await new Promise((r) => setImmediate(r));
    },
  };
}

/**
 * Two or more tabs of one browser: a Web Locks stand-in (one holder at a time, FIFO), a shared
 * storage, and BroadcastChannel ports (`channel()`, one per tab) that deliver to each other at
 * once or, with `link.delayMs`, after that much fake time.
 */
export function browserTabs(time) {
  let queue = Promise.resolve();
  const locks = {
    request(_name, _opts, fn) {
      const run = queue.then(() => fn());
      queue = run.catch(() => {});
      return run;
    },
  };
  const link = { delayMs: 0 };
  const ports = [];
  const channel = () => {
    const port = {
      onmessage: null,
      postMessage(data) {
        for (const other of ports) {
          if (other === port) continue;
          const deliver = () => other.onmessage?.({ data });
          if (link.delayMs) time.timers.setTimeout(deliver, link.delayMs);
          else queueMicrotask(deliver);
        }
      },
      close() {},
    };
    ports.push(port);
    return port;
  };
  const store = new Map();
  const storage = { getItem: (k) => store.get(k) ?? null, setItem: (k, v) => store.set(k, v) };
  return { link, shared: { locks, storage }, channel };
}

const fromB64url = (text) => Buffer.from(text, "base64url");

/**
 * A DPoP proof taken apart and checked as a server would: its header and claims, whether its
 * signature verifies under the key in its header, and that key's RFC 7638 thumbprint
 * (computed here with node:crypto, not with the client's code).
 */
export async function readProof(proof) {
  const [h, c, s] = proof.split(".");
  const header = JSON.parse(fromB64url(h));
  const claims = JSON.parse(fromB64url(c));
  const publicKey = await crypto.subtle.importKey("jwk", header.jwk, { name: "ECDSA", namedCurve: "P-256" }, true, ["verify"]);
  const valid = await crypto.subtle.verify(
    { name: "ECDSA", hash: "SHA-256" },
    publicKey,
    fromB64url(s),
    new TextEncoder().encode(`${h}.${c}`),
  );
  const { crv, kty, x, y } = header.jwk;
  const canonical = `{"crv":"${crv}","kty":"${kty}","x":"${x}","y":"${y}"}`;
  const jkt = createHash("sha256").update(canonical).digest("base64url");
  return { header, claims, valid, jkt };
}

/** `ath` as RFC 9449 defines it, computed with node:crypto. */
export function ath(accessToken) {
  return createHash("sha256").update(accessToken, "ascii").digest("base64url");
}
