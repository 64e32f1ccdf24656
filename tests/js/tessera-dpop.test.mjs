// Unit tests of tessera.js with DPoP: a fake server that checks every proof as Tessera does
// (signature, htm, htu, iat, ath, the bound key, jti never twice, nonces when asked for).
import assert from "node:assert/strict";
import { test } from "node:test";

import { createAuth, TransientError } from "../../src/tessera/web/static/tessera.js";
import { memoryKeys } from "../../src/tessera/web/static/tessera/keys.js";
import { ath, browserTabs, fakeTime, readProof, TTL } from "./fakes.mjs";

const PAGE = "https://app.example.com/orders/";
const API = "https://api.example.com";

/** A bound access token: its claims name the key (`cnf.jkt`). */
function boundToken(iat, jkt, n) {
  const b64 = (v) => Buffer.from(JSON.stringify(v)).toString("base64url");
  return `${b64({ alg: "ES256", typ: "at+jwt" })}.${b64({ iat, exp: iat + TTL, n, cnf: { jkt } })}.sig`;
}

/**
 * The auth server and two resource origins (the page's own and API). `dpop: false` is a server
 * that ignores proofs; `nonces` makes it ask for a nonce, per origin, before it accepts a proof.
 */
function dpopServer(time, { dpop = true, nonces = false } = {}) {
  const server = { jkt: null, current: null, n: 0, refreshes: 0, requests: [], jtis: new Set(), loseNext: false };
  const nonceOf = (origin) => `nonce-${origin.length}-${Math.floor(time.now() / 1000)}`;
  const json = (status, body, headers = {}) =>
    new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
  const issue = () => {
    server.n += 1;
    const iat = Math.floor(time.now() / 1000);
    server.current = server.jkt ? boundToken(iat, server.jkt, server.n) : `${iat}.${server.n}`;
    const token_type = server.jkt ? "DPoP" : "Bearer";
    return { access_token: server.current, token_type, expires_in: TTL, session_id: "s1" };
  };
  /** The proof's verdict for this request: its key's thumbprint, or an error code. */
  async function check(proof, method, url, token) {
    if (!proof) return { error: "missing" };
    const { header, claims, valid, jkt } = await readProof(proof);
    const htu = `${url.origin}${url.pathname}`;
    if (!valid || header.typ !== "dpop+jwt" || claims.htm !== method || claims.htu !== htu) return { error: "invalid" };
    if (Math.abs(claims.iat - time.now() / 1000) > 60) return { error: "stale" };
    if (token !== undefined && claims.ath !== ath(token)) return { error: "wrong_token" };
    if (server.jtis.has(claims.jti)) return { error: "replayed" };
    server.jtis.add(claims.jti);
    if (nonces && claims.nonce !== nonceOf(url.origin)) return { error: "nonce", nonce: nonceOf(url.origin) };
    return { jkt };
  }
  server.fetch = async (input, init = {}) => {
    const url = new URL(String(input instanceof Request ? input.url : input), PAGE);
    const headers = new Headers(init.headers ?? (input instanceof Request ? input.headers : undefined));
    const method = new Request(url, { method: init.method ?? (input instanceof Request ? input.method : "GET") }).method;
    const proof = headers.get("dpop");
    const seen = { path: url.pathname, authorization: headers.get("authorization"), proof: proof && (await readProof(proof)) };
    server.requests.push(seen);
    const asked = (verdict) => ({ "dpop-nonce": verdict.nonce });
    if (url.pathname === "/auth/logout") return new Response(null, { status: 204 });
    if (url.pathname === "/auth/login" || url.pathname === "/auth/refresh") {
      const verdict = dpop && proof ? await check(proof, method, url) : {};
      if (verdict.error === "nonce") return json(400, { error: "use_dpop_nonce" }, asked(verdict));
      if (verdict.error) return json(400, { error: "invalid_dpop_proof" });
      const next = nonces ? { "dpop-nonce": nonceOf(url.origin) } : {};
      if (url.pathname === "/auth/login") {
        server.jkt = verdict.jkt ?? null;
        return json(200, issue(), next);
      }
      if (server.jkt && verdict.jkt !== server.jkt) return json(401, { error: "invalid_dpop_proof" });
      server.refreshes += 1;
      const body = issue();
      if (server.loseNext) {
        server.loseNext = false;
        throw new TypeError("Failed to fetch"); // rotated on the server, the answer lost
      }
      return json(200, body, next);
    }
    const challenge = (error) => ({ "www-authenticate": `DPoP error="${error}"` });
    if (headers.get("authorization") !== `${server.jkt ? "DPoP" : "Bearer"} ${server.current}`) {
      return json(401, { error: "invalid_token" }, challenge("invalid_token"));
    }
    if (!server.jkt) return json(200, { ok: true });
    const verdict = await check(proof, method, url, server.current);
    if (verdict.error === "nonce") return json(401, {}, { ...challenge("use_dpop_nonce"), ...asked(verdict) });
    if (verdict.error || verdict.jkt !== server.jkt) return json(401, {}, challenge("invalid_dpop_proof"));
    return json(200, { ok: true, body: init.body === undefined ? null : await new Response(init.body).text() });
  };
  return server;
}

function setup({ server: serverOptions, ...extra } = {}) {
  const time = fakeTime();
  const server = dpopServer(time, serverOptions);
  const keys = memoryKeys();
  const fetch = (input, init) => server.fetch(input, init); // late-bound: tests swap server.fetch
  const options = { fetch, now: time.now, timers: time.timers, locks: null, channel: null };
  const auth = createAuth({ ...options, storage: null, pageUrl: PAGE, apiOrigins: [API], keys, ...extra });
  return { time, server, keys, auth };
}

const paths = (server) => server.requests.map((r) => r.path);

test("a login makes a non-extractable key, binds the session to it, and proves every request", async () => {
  const { time, server, keys, auth } = setup();
  await auth.login("alice", "pw");
  const key = await keys.load("/auth");
  assert.equal(key.privateKey.extractable, false);
  assert.equal(server.jkt, key.jkt); // the login's proof was by the stored key
  assert.equal(server.requests[0].proof.claims.htu, "https://app.example.com/auth/login");
  for (const url of ["/api/me?page=2#top", `${API}/v1/orders`]) {
    assert.equal((await auth.fetch(url)).status, 200);
    const { authorization, proof } = server.requests.at(-1);
    assert.equal(authorization, `DPoP ${auth.accessToken}`);
    assert.equal(proof.claims.ath, ath(auth.accessToken));
    assert.equal(proof.jkt, key.jkt);
  }
  assert.equal(server.requests[1].proof.claims.htu, "https://app.example.com/api/me");
  const posted = await auth.fetch("/api/echo", { method: "post", body: "x" });
  assert.deepEqual(await posted.json(), { ok: true, body: "x" });
  assert.equal(server.requests.at(-1).proof.claims.htm, "POST");
  await time.advance(TTL * 1000);
  assert.equal((await auth.fetch("/api/me")).status, 200); // refreshed first, with a proof
  assert.equal(server.refreshes, 1);
  assert.equal(server.requests.find((r) => r.path === "/auth/refresh").proof.jkt, key.jkt);
});

test("a request to another origin gets neither the token nor a proof", async () => {
  const { server, auth } = setup();
  await auth.login("alice", "pw");
  await auth.fetch("https://elsewhere.example/x");
  assert.deepEqual(server.requests.at(-1), { path: "/x", authorization: null, proof: null });
});

test("use_dpop_nonce: sent once more with the nonce, which is kept for that origin's next proofs", async () => {
  const { time, server, auth } = setup({ server: { nonces: true } });
  await auth.login("alice", "pw");
  assert.deepEqual(paths(server), ["/auth/login", "/auth/login"]); // asked, then answered
  assert.equal((await auth.fetch("/api/me")).status, 200); // the login's nonce: same origin
  assert.equal((await auth.fetch(`${API}/me`)).status, 200); // the API's own nonce, asked for
  assert.equal((await auth.fetch(`${API}/me`)).status, 200);
  assert.deepEqual(paths(server).slice(2), ["/api/me", "/me", "/me", "/me"]);
  await time.advance(TTL * 1000); // the nonces are stale now: each origin asks once more
  assert.equal((await auth.fetch("/api/me")).status, 200);
  assert.deepEqual(paths(server).slice(6), ["/auth/refresh", "/auth/refresh", "/api/me"]);
});

test("a nonce is asked for once: a server that asks again gets its refusal back", async () => {
  const { time, server, auth } = setup({ server: { nonces: true } });
  await auth.login("alice", "pw");
  const serve = server.fetch;
  server.fetch = async (input, init) => {
    await time.advance(1000); // every nonce stale by the time it is used
    return serve(input, init);
  };
  assert.equal((await auth.fetch("/api/me")).status, 401);
  assert.deepEqual(paths(server).slice(2), ["/api/me", "/api/me"]);
});

test("a stream body is not sent again for a nonce", async () => {
  const { server, auth } = setup({ server: { nonces: true } });
  await auth.login("alice", "pw");
  const body = new ReadableStream({ start: (c) => (c.enqueue(new TextEncoder().encode("x")), c.close()) });
  const response = await auth.fetch(`${API}/upload`, { method: "POST", body, duplex: "half" });
  assert.equal(response.status, 401);
  assert.equal(paths(server).filter((p) => p === "/upload").length, 1);
});

test("a lost refresh response: the session is kept and the next refresh, proven, goes through", async () => {
  const { time, server, auth } = setup();
  const errors = [];
  const logouts = [];
  auth.on("error", (e) => errors.push(e));
  auth.on("logout", (e) => logouts.push(e));
  await auth.login("alice", "pw");
  await time.advance(TTL * 1000);
  server.loseNext = true;
  await assert.rejects(auth.fetch("/api/me"), TransientError); // expired, and the refresh failed
  assert.equal(errors.length, 1);
  await time.advance(60_000); // past the back-off
  assert.equal((await auth.fetch("/api/me")).status, 200);
  assert.equal(server.refreshes, 2);
  assert.deepEqual(logouts, []);
});

test("tabs share the key: one refresh per expiry, every tab's requests proven by that key", async () => {
  const time = fakeTime();
  const server = dpopServer(time);
  const { shared, channel } = browserTabs(time);
  const keys = memoryKeys(); // one origin's IndexedDB
  const options = { fetch: server.fetch, now: time.now, timers: time.timers, ...shared, keys, pageUrl: PAGE };
  const [tab1, tab2] = [createAuth({ ...options, channel: channel() }), createAuth({ ...options, channel: channel() })];
  await tab1.login("alice", "pw");
  await new Promise((r) => setImmediate(r));
  assert.equal(tab2.accessToken, tab1.accessToken);
  await time.advance(TTL * 1000);
  const [a, b] = await Promise.all([tab1.fetch("/api/me"), tab2.fetch("/api/me")]);
  assert.deepEqual([a.status, b.status], [200, 200]);
  assert.equal(server.refreshes, 1);
  const proofs = server.requests.filter((r) => r.proof).map((r) => r.proof.jkt);
  assert.deepEqual(new Set(proofs), new Set([server.jkt]));

  // A login in the other tab makes a new key; this tab's next request follows it.
  const first = server.jkt;
  await tab2.login("alice", "pw");
  await new Promise((r) => setImmediate(r));
  assert.notEqual(server.jkt, first);
  assert.equal((await tab1.fetch("/api/me")).status, 200);
  assert.equal(server.requests.at(-1).proof.jkt, server.jkt);
  await time.advance(TTL * 1000);
  assert.equal((await tab1.fetch("/api/me")).status, 200); // its refresh too
  assert.equal(server.refreshes, 2);
});

test("without a key (a copied cookie, another browser) the refresh is refused and nothing is sent proven", async () => {
  const time = fakeTime();
  const server = dpopServer(time);
  const options = { fetch: server.fetch, now: time.now, timers: time.timers, locks: null, channel: null, storage: null };
  const owner = createAuth({ ...options, pageUrl: PAGE, keys: memoryKeys() });
  await owner.login("alice", "pw");
  const thief = createAuth({ ...options, pageUrl: PAGE, keys: memoryKeys() });
  assert.equal(await thief.restore(), false);
  assert.equal(server.requests.at(-1).proof, null);
  assert.equal(server.refreshes, 0);
  assert.equal((await owner.fetch("/api/me")).status, 200);
});

test("logout forgets the key; DPoP off, or a server without it, keeps none and sends Bearer", async () => {
  const { server, keys, auth } = setup();
  await auth.login("alice", "pw");
  const jkt = server.jkt;
  await auth.logout();
  assert.equal(server.requests.at(-1).proof.jkt, jkt); // the logout is proven too
  assert.equal(await keys.load("/auth"), undefined);

  for (const { server: serverOptions, ...extra } of [{ dpop: false }, { server: { dpop: false } }]) {
    const { server, keys: stored, auth: plain } = setup({ server: serverOptions, ...extra });
    await plain.login("alice", "pw");
    assert.equal((await plain.fetch("/api/me")).status, 200);
    assert.equal(server.requests.at(-1).authorization, `Bearer ${plain.accessToken}`);
    assert.equal(server.requests.at(-1).proof, null);
    assert.equal(await stored.load("/auth"), undefined);
  }
});

test("a key that could not be stored stays in memory: the tab that logged in goes on", async () => {
  const broken = { load: async () => undefined, save: () => Promise.reject(new Error("quota")), remove: async () => {} };
  const { time, server, auth } = setup({ keys: broken });
  await auth.login("alice", "pw");
  assert.notEqual(server.jkt, null); // bound all the same
  await time.advance(TTL * 1000);
  assert.equal((await auth.fetch("/api/me")).status, 200);
  assert.equal(server.refreshes, 1);
});
