// Unit tests of tessera.js's logic with a mocked fetch, clock and timers: `node --test tests/js`.
import assert from "node:assert/strict";
import { test } from "node:test";

import { createAuth, TransientError } from "../../src/tessera/web/static/tessera.js";
import { browserTabs, fakeTime, token, TTL } from "./fakes.mjs";

const PAGE = "https://app.example.com/orders/"; // the page the client runs in

/** A fake auth server + API: counts refreshes, rotates tokens, checks the bearer token. */
function fakeServer(time) {
  const server = { refreshes: 0, current: null, n: 0, refreshStatus: 200, apiStatus: null, calls: [] };
  server.issue = () => {
    server.n += 1;
    server.current = token(Math.floor(time.now() / 1000), TTL, server.n);
    return { access_token: server.current, token_type: "Bearer", expires_in: TTL, session_id: "s1" };
  };
  server.fetch = async (input, init = {}) => {
    const url = String(input instanceof Request ? input.url : input);
    server.calls.push(url);
    const json = (status, body, headers = {}) =>
      new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
    if (url.endsWith("/auth/login")) return json(200, server.issue());
    if (url.endsWith("/auth/logout")) return new Response(null, { status: 204 });
    if (url.endsWith("/auth/refresh")) {
      server.refreshes += 1;
      await new Promise((r) => setImmediate(r));
      if (server.refreshStatus === 200) return json(200, server.issue());
      return json(server.refreshStatus, { error: "x", error_description: "y" }, { "retry-after": "3" });
    }
    if (server.apiStatus) return json(server.apiStatus, { error: "insufficient_scope" });
    const sent = new Headers(init.headers).get("authorization");
    if (sent !== `Bearer ${server.current}`) {
      return json(401, { error: "invalid_token" }, { "www-authenticate": 'Bearer error="invalid_token"' });
    }
    if (init.body !== undefined) return json(200, { body: await new Response(init.body).text() });
    return json(200, { ok: true });
  };
  return server;
}

function setup(extra = {}) {
  const time = fakeTime();
  const server = fakeServer(time);
  const auth = createAuth({
    fetch: (input, init) => server.fetch(input, init), // late-bound: tests swap server.fetch
    now: time.now,
    timers: time.timers,
    locks: null,
    channel: null,
    storage: null,
    pageUrl: PAGE,
    ...extra,
  });
  return { time, server, auth };
}

test("many concurrent calls with a stale token cause one refresh", async () => {
  const { time, server, auth } = setup();
  await auth.login("alice", "pw");
  await time.advance((TTL - 30) * 1000); // inside the lead: min(60 s, TTL/3)
  const responses = await Promise.all(Array.from({ length: 10 }, () => auth.fetch("/api/me")));
  assert.deepEqual(responses.map((r) => r.status), Array(10).fill(200));
  assert.equal(server.refreshes, 1);
});

test("a 401 invalid_token refreshes once and retries once", async () => {
  const { server, auth } = setup();
  await auth.login("alice", "pw");
  server.current = "revoked-by-server"; // the server no longer accepts our token
  server.issue = () => ({ access_token: "still-wrong", expires_in: TTL });
  const response = await auth.fetch("/api/me");
  assert.equal(response.status, 401); // retried once, then handed back: no loop
  assert.equal(server.refreshes, 1);
  assert.equal(server.calls.filter((u) => u === "/api/me").length, 2);
});

test("retry succeeds with the refreshed token, body rebuilt from init", async () => {
  const { time, server, auth } = setup();
  await auth.login("alice", "pw");
  const old = server.current;
  server.current = token(Math.floor(time.now() / 1000), TTL, 99); // server moved on
  server.issue = () => ({ access_token: server.current, expires_in: TTL });
  const response = await auth.fetch("/api/echo", { method: "POST", body: "payload" });
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), { body: "payload" });
  assert.notEqual(auth.accessToken, old);
  assert.equal(server.refreshes, 1);
});

test("a stream body is never replayed", async () => {
  const { server, auth } = setup();
  await auth.login("alice", "pw");
  server.current = "moved";
  const body = new ReadableStream({ start: (c) => (c.enqueue(new TextEncoder().encode("x")), c.close()) });
  const response = await auth.fetch("/api/echo", { method: "POST", body, duplex: "half" });
  assert.equal(response.status, 401);
  assert.equal(server.refreshes, 0);
});

test("a 403 is returned without refreshing", async () => {
  const { server, auth } = setup();
  await auth.login("alice", "pw");
  server.apiStatus = 403;
  assert.equal((await auth.fetch("/api/admin")).status, 403);
  assert.equal(server.refreshes, 0);
});

test("refresh 401 emits logout once and never loops", async () => {
  const { time, server, auth } = setup();
  const events = [];
  auth.on("logout", (d) => events.push(d.reason));
  await auth.login("alice", "pw");
  server.refreshStatus = 401;
  await time.advance(TTL * 1000);
  const first = await auth.fetch("/api/me");
  const second = await auth.fetch("/api/me");
  assert.equal(first.status, 401);
  assert.equal(second.status, 401);
  assert.equal(server.refreshes, 1);
  assert.deepEqual(events, ["session_ended"]);
  assert.equal(auth.accessToken, null);
});

test("5xx keeps the session and backs off", async () => {
  const { time, server, auth } = setup();
  const errors = [];
  auth.on("error", (d) => errors.push(d.retryInMs));
  await auth.login("alice", "pw");
  server.refreshStatus = 503;
  await time.advance(TTL * 1000 + 1);
  await assert.rejects(auth.fetch("/api/me"), TransientError);
  assert.deepEqual(errors, [3000]); // Retry-After: 3 beats the first back-off step
  await assert.rejects(auth.fetch("/api/me"), TransientError); // still backing off
  assert.equal(server.refreshes, 1);
  server.refreshStatus = 200;
  await time.advance(3001);
  assert.equal((await auth.fetch("/api/me")).status, 200);
  assert.equal(server.refreshes, 2);
});

test("a transient failure ahead of expiry still sends the still-valid token", async () => {
  const { time, server, auth } = setup();
  await auth.login("alice", "pw");
  server.refreshStatus = 502;
  await time.advance((TTL - 10) * 1000);
  assert.equal((await auth.fetch("/api/me")).status, 200);
});

test("a refresh result that lands after logout is discarded", async () => {
  const { time, server, auth } = setup();
  await auth.login("alice", "pw");
  await time.advance(TTL * 1000);
  const pending = auth.fetch("/api/me");
  await auth.logout();
  await pending.catch(() => {});
  assert.equal(auth.accessToken, null);
  assert.ok(server.refreshes <= 1);
});

test("if the token changed while a request was in flight, retry without refreshing", async () => {
  const { server, auth } = setup();
  await auth.login("alice", "pw");
  const serve = server.fetch;
  let first = true;
  server.fetch = async (input, init) => {
    if (first && String(input) === "/api/me") {
      first = false;
      await auth.login("alice", "pw"); // another caller replaces the token meanwhile
      return new Response("{}", { status: 401, headers: { "www-authenticate": 'Bearer error="invalid_token"' } });
    }
    return serve(input, init);
  };
  assert.equal((await auth.fetch("/api/me")).status, 200);
  assert.equal(first, false); // the 401 path really ran
  assert.equal(server.refreshes, 0);
});

/** Two tabs of one browser (see `browserTabs`), each a client of `server`. */
function twoTabs(time, server) {
  const { link, shared, channel } = browserTabs(time);
  const options = { fetch: server.fetch, now: time.now, timers: time.timers, ...shared, pageUrl: PAGE };
  return { link, tabs: [createAuth({ ...options, channel: channel() }), createAuth({ ...options, channel: channel() })] };
}

test("two tabs sharing a lock and a channel rotate once", async () => {
  const time = fakeTime();
  const server = fakeServer(time);
  const { tabs: [tab1, tab2] } = twoTabs(time, server);
  await tab1.login("alice", "pw");
  await new Promise((r) => setImmediate(r));
  assert.equal(tab2.accessToken, tab1.accessToken); // the login was shared
  await time.advance(TTL * 1000);
  const [a, b] = await Promise.all([tab1.fetch("/api/me"), tab2.fetch("/api/me")]);
  assert.equal(a.status, 200);
  assert.equal(b.status, 200);
  assert.equal(server.refreshes, 1);
});

test("a hand-over slowed by a busy machine still means one rotation for one expiry", async () => {
  // As above, but the channel takes 3 s (fake time) to deliver: the tab that waited for the
  // lock sees the other's marker and waits for its token rather than rotating again.
  const time = fakeTime();
  const server = fakeServer(time);
  const { link, tabs: [tab1, tab2] } = twoTabs(time, server);
  await tab1.login("alice", "pw");
  await new Promise((r) => setImmediate(r));
  link.delayMs = 3_000;
  await time.advance(TTL * 1000);
  const calls = Promise.all([tab1.fetch("/api/me"), tab2.fetch("/api/me")]);
  for (let i = 0; i < 8; i += 1) await time.advance(500); // the delivery lands at 3 s
  const [a, b] = await calls;
  assert.equal(a.status, 200);
  assert.equal(b.status, 200);
  assert.equal(server.refreshes, 1);
});

test("a tab that starts refreshing after another finished, its token not yet arrived, waits for it", async () => {
  // The other tab's refresh is over before this one even asks for the lock (its timer fired
  // late), and its broadcast is still on the way: the marker says a newer token exists.
  const time = fakeTime();
  const server = fakeServer(time);
  const { link, tabs: [tab1, tab2] } = twoTabs(time, server);
  await tab1.login("alice", "pw");
  await new Promise((r) => setImmediate(r));
  link.delayMs = 2_000;
  await time.advance(TTL * 1000);
  assert.equal((await tab1.fetch("/api/me")).status, 200);
  assert.equal(server.refreshes, 1);
  await time.advance(100); // this tab's turn comes a moment later
  const late = tab2.fetch("/api/me");
  for (let i = 0; i < 8; i += 1) await time.advance(500);
  assert.equal((await late).status, 200);
  assert.equal(server.refreshes, 1);
  assert.equal(tab2.accessToken, tab1.accessToken);
});

/** A BroadcastChannel stand-in: records what the tab posts; `deliver` plays another tab. */
function fakeChannel() {
  return {
    onmessage: null,
    posted: [],
    postMessage(data) {
      this.posted.push(data);
    },
    deliver(data) {
      this.onmessage?.({ data });
    },
    close() {},
  };
}

/** The message another tab posts after its refresh. */
function handOver(server, time) {
  const { access_token, session_id } = server.issue();
  return { type: "token", token: access_token, localExp: time.now() + TTL * 1000, lifetime: TTL * 1000, sessionId: session_id };
}

test("a token handed over by another tab is installed as a refresh's is: the back-off ends", async () => {
  const channel = fakeChannel();
  const { time, server, auth } = setup({ channel });
  const refreshed = [];
  auth.on("refreshed", (d) => refreshed.push([d.fromOtherTab, d.expiresAt === auth.expiresAt]));
  await auth.login("alice", "pw");
  assert.deepEqual(channel.posted.map((m) => m.token), [auth.accessToken]); // the login, shared
  server.refreshStatus = 503;
  await time.advance(TTL * 1000 + 1);
  await assert.rejects(auth.fetch("/api/me"), TransientError); // backing off for 3 s now
  channel.deliver(handOver(server, time));
  assert.equal(auth.accessToken, server.current);
  assert.equal((await auth.fetch("/api/me")).status, 200); // the handed-over token, at once
  assert.equal(server.refreshes, 1);
  assert.deepEqual(refreshed, [[true, true]]);
  server.refreshStatus = 200;
  server.current = "revoked-by-server"; // still inside the 3 s: a 401 refreshes, no back-off left
  assert.equal((await auth.fetch("/api/me")).status, 200);
  assert.equal(server.refreshes, 2);
  assert.deepEqual(refreshed, [[true, true], [false, true]]);
  assert.equal(channel.posted.at(-1).token, auth.accessToken); // and to hand over in turn
});

test("a hand-over reaches a tab whose session had ended; a logout ends it everywhere", async () => {
  const channel = fakeChannel();
  const { time, server, auth } = setup({ channel });
  const logouts = [];
  auth.on("logout", (d) => logouts.push(d.reason));
  await auth.login("alice", "pw");
  server.refreshStatus = 401;
  await time.advance(TTL * 1000);
  assert.equal((await auth.fetch("/api/me")).status, 401);
  assert.deepEqual(channel.posted.at(-1), { type: "logout", reason: "session_ended" });
  channel.deliver(handOver(server, time)); // another tab signed in again
  assert.equal((await auth.fetch("/api/me")).status, 200);
  assert.equal(server.refreshes, 1);
  channel.deliver({ type: "logout", reason: "logout" });
  assert.equal(auth.accessToken, null);
  assert.equal(auth.expiresAt, null);
  assert.deepEqual(logouts, ["session_ended", "logout"]);
  channel.deliver({ type: "token" }); // not a token: ignored
  channel.deliver(null);
  assert.equal(auth.accessToken, null);
});

test("never arms a timer longer than 2^31-1 ms", async () => {
  const time = fakeTime();
  const delays = [];
  const timers = {
    setTimeout: (fn, ms) => (delays.push(ms), time.timers.setTimeout(fn, ms)),
    clearTimeout: time.timers.clearTimeout,
  };
  globalThis.document = { visibilityState: "visible" };
  try {
    const server = fakeServer(time);
    server.issue = () => ({ access_token: token(Math.floor(time.now() / 1000), 100 * 86400), expires_in: 1 });
    const auth = createAuth({ fetch: server.fetch, now: time.now, timers, locks: null, channel: null, storage: null, pageUrl: PAGE });
    await auth.login("alice", "pw");
    assert.ok(delays.length > 0 && delays.every((ms) => ms <= 2 ** 31 - 1));
    auth.close();
  } finally {
    delete globalThis.document;
  }
});

// which origins get the token -------------------------------------------------------------

/** Record the Authorization header of every request the client sends, by URL. */
function recordAuthorization(server) {
  const sent = [];
  const serve = server.fetch;
  server.fetch = async (input, init = {}) => {
    const headers = new Headers(init.headers ?? (input instanceof Request ? input.headers : undefined));
    sent.push([String(input instanceof Request ? input.url : input), headers.get("authorization")]);
    return serve(input, init);
  };
  return sent;
}

test("the token goes only to the page's origin and the listed ones, matched exactly", async () => {
  const { server, auth } = setup({ apiOrigins: ["https://api.example.com", "https://files.example.com:8443/"] });
  await auth.login("alice", "pw");
  const sent = recordAuthorization(server);
  const bearer = `Bearer ${auth.accessToken}`;
  const expected = [
    ["/api/me", bearer],
    ["../api/me", bearer], // relative to the page
    ["https://app.example.com:443/api/me", bearer],
    ["https://api.example.com/v1/orders", bearer],
    [new URL("https://API.example.com/v1/orders"), bearer],
    ["https://files.example.com:8443/x", bearer],
    ["https://files.example.com/x", null], // another port
    ["http://app.example.com/api/me", null], // the page's host, over plain http
    ["http://api.example.com/v1/orders", null], // listed as https only
    ["https://api.example.com:8443/v1/orders", null],
    ["https://evil.example.net/collect", null],
    ["//evil.example.net/collect", null], // scheme-relative: another host
    ["https://app.example.com.evil.example.net/", null],
    ["https://evil.example.net/https://app.example.com/", null],
    [new Request("https://evil.example.net/collect"), null],
  ];
  for (const [input] of expected) await auth.fetch(input);
  assert.deepEqual(
    sent.map(([, header]) => header),
    expected.map(([, header]) => header),
  );
});

test("a request to another origin goes out untouched: no refresh, no retry on its 401", async () => {
  const { time, server, auth } = setup();
  await auth.login("alice", "pw");
  const sent = recordAuthorization(server);
  await time.advance(TTL * 1000); // the token has expired: a request to the API would refresh
  const response = await auth.fetch("https://evil.example.net/api", { headers: { Authorization: "Basic b3du" } });
  assert.equal(response.status, 401); // the fake answers 401 invalid_token to a wrong bearer
  assert.equal(server.refreshes, 0);
  assert.deepEqual(sent, [["https://evil.example.net/api", "Basic b3du"]]); // the caller's own header, once
  assert.equal((await auth.fetch("/api/me")).status, 200); // the page's own API refreshes
  assert.equal(server.refreshes, 1);
});

test("apiOrigins takes bare origins only, and no plain http from an https page", () => {
  const make = (apiOrigins, pageUrl = PAGE) =>
    createAuth({ apiOrigins, pageUrl, fetch: async () => new Response(), locks: null, channel: null, storage: null });
  for (const bad of [
    "https://api.example.com/v1",
    "https://api.example.com/?x=1",
    "https://user:pw@api.example.com",
    "api.example.com",
    "*",
    "ftp://api.example.com",
    "",
  ]) {
    assert.throws(() => make([bad]), /not an origin/, bad);
  }
  assert.throws(() => make("https://api.example.com"), /must be an array/);
  assert.throws(() => make(["http://api.example.com"]), /plain http/);
  assert.doesNotThrow(() => make(["http://localhost:8080"], "http://localhost:8000/"));
});

test("the page's origin is its location's: a <base href> elsewhere earns no token", async () => {
  globalThis.location = { origin: "https://app.example.com", href: PAGE };
  globalThis.document = { baseURI: "https://evil.example.net/", visibilityState: "hidden" };
  try {
    const { server, auth } = setup({ pageUrl: undefined });
    await auth.login("alice", "pw");
    const sent = recordAuthorization(server);
    await auth.fetch("/api/me"); // resolves against the base, as fetch would
    await auth.fetch("https://app.example.com/api/me");
    globalThis.document.baseURI = PAGE; // the <base> is gone again
    await auth.fetch("/api/me");
    const bearer = `Bearer ${auth.accessToken}`;
    assert.deepEqual(sent.map(([, header]) => header), [null, bearer, bearer]);
    auth.close();
  } finally {
    delete globalThis.location;
    delete globalThis.document;
  }
});

test("a 401 that a redirect brought from another origin starts no refresh", async () => {
  const { server, auth } = setup();
  await auth.login("alice", "pw");
  const serve = server.fetch;
  server.fetch = async (input, init) => {
    if (!String(input).startsWith("/api/")) return serve(input, init);
    const response = new Response("{}", {
      status: 401,
      headers: { "www-authenticate": 'Bearer error="invalid_token"' },
    });
    const final = String(input).includes("away") ? "https://evil.example.net/x" : "https://app.example.com/x";
    Object.defineProperty(response, "url", { value: final }); // where fetch's redirects ended
    return response;
  };
  assert.equal((await auth.fetch("/api/away")).status, 401);
  assert.equal(server.refreshes, 0);
  assert.equal((await auth.fetch("/api/here")).status, 401); // the page's own API's 401:
  assert.equal(server.refreshes, 1); // one refresh, one retry
});
