// "Your devices" in tessera.js with a scripted server: what each call sends, and what it makes
// of each answer (Chromium against the real server: tests/test_browser_devices.py).
import assert from "node:assert/strict";
import { test } from "node:test";

import { createAuth, RequestError } from "../../src/tessera/web/static/tessera.js";
import { fakeTime, token, TTL } from "./fakes.mjs";

const PAGE = "https://app.example.com/";
const ITEM = {
  id: "s/2",
  created_at: 1_800_000_000.5,
  last_used_at: 1_800_000_100,
  expires_at: 1_802_592_000,
  refresh_expires_at: 1_801_209_600,
  ip: "203.0.113.7",
  user_agent: "Mozilla/5.0 …",
  device: "Firefox on Linux",
  current: false,
};

function setup(answers) {
  const time = fakeTime();
  const sent = [];
  const json = (status, body) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
  const fetch = async (input, init = {}) => {
    const url = String(input);
    sent.push({ method: init.method ?? "GET", url, authorization: new Headers(init.headers).get("authorization") });
    if (url.endsWith("/auth/login")) {
      return json(200, { access_token: token(time.now() / 1000), token_type: "Bearer", expires_in: TTL, session_id: "s/1" });
    }
    if (url.endsWith("/auth/logout")) return new Response(null, { status: 204 });
    const [status, body] = answers.shift();
    return body === undefined ? new Response(null, { status }) : json(status, body);
  };
  const auth = createAuth({ fetch, now: time.now, timers: time.timers, locks: null, channel: null, storage: null, pageUrl: PAGE, dpop: false });
  return { auth, sent };
}

test("sessions() maps the server's items: camelCase, times in ms", async () => {
  const { auth, sent } = setup([[200, { sessions: [ITEM, { ...ITEM, id: "s/1", device: null, ip: null, current: true }] }]]);
  await auth.login("alice", "pw");
  const [other, own] = await auth.sessions();
  assert.deepEqual(other, {
    id: "s/2",
    device: "Firefox on Linux",
    ip: "203.0.113.7",
    userAgent: "Mozilla/5.0 …",
    createdAt: 1_800_000_000_500,
    lastUsedAt: 1_800_000_100_000,
    expiresAt: 1_802_592_000_000,
    refreshExpiresAt: 1_801_209_600_000,
    current: false,
  });
  assert.equal(own.device, null);
  assert.equal(own.current, true);
  assert.equal(sent.at(-1).url, "/auth/sessions");
  assert.match(sent.at(-1).authorization, /^Bearer /);
});

test("revokeSession: DELETE by the encoded id; 404 is false; a refusal is a RequestError", async () => {
  const { auth, sent } = setup([[204], [404, { error: "not_found" }], [429, { error: "rate_limited", error_description: "slow down" }]]);
  await auth.login("alice", "pw");
  assert.equal(await auth.revokeSession("s/2"), true);
  assert.deepEqual([sent.at(-1).method, sent.at(-1).url], ["DELETE", "/auth/sessions/s%2F2"]);
  assert.equal(await auth.revokeSession("gone"), false);
  const error = await auth.revokeSession("s/2").catch((e) => e);
  assert.ok(error instanceof RequestError);
  assert.deepEqual([error.code, error.status, error.message], ["rate_limited", 429, "rate_limited: slow down"]);
  await assert.rejects(auth.revokeSession(""), TypeError);
});

test("revoking this browser's own session is a logout", async () => {
  const { auth, sent } = setup([]);
  await auth.login("alice", "pw");
  const reasons = [];
  auth.on("logout", ({ reason }) => reasons.push(reason));
  assert.equal(await auth.revokeSession("s/1"), true);
  assert.deepEqual(reasons, ["logout"]);
  assert.equal(auth.accessToken, null);
  assert.equal(sent.at(-1).url, "/auth/logout"); // no DELETE: the logout ends it
});

test("revokeOtherSessions: DELETE ?except=current", async () => {
  const { auth, sent } = setup([[204], [500, {}]]);
  await auth.login("alice", "pw");
  assert.equal(await auth.revokeOtherSessions(), undefined);
  assert.deepEqual([sent.at(-1).method, sent.at(-1).url], ["DELETE", "/auth/sessions?except=current"]);
  await assert.rejects(auth.revokeOtherSessions(), (e) => e instanceof RequestError && e.status === 500 && e.code === "error");
});

test("the auth server gets the token for these calls even on another origin", async () => {
  const answers = [[200, { sessions: [] }], [401, {}]];
  const time = fakeTime();
  const sent = [];
  const fetch = async (input, init = {}) => {
    sent.push([String(input), new Headers(init.headers).get("authorization")]);
    if (String(input).endsWith("/login")) {
      const body = { access_token: token(time.now() / 1000), token_type: "Bearer", expires_in: TTL, session_id: "s" };
      return new Response(JSON.stringify(body), { status: 200 });
    }
    const [status, body] = answers.shift();
    return new Response(JSON.stringify(body), { status });
  };
  const auth = createAuth({
    baseUrl: "https://auth.example.com/auth", credentials: "include", fetch, now: time.now, timers: time.timers,
    locks: null, channel: null, storage: null, pageUrl: PAGE, dpop: false,
  });
  await auth.login("alice", "pw");
  assert.deepEqual(await auth.sessions(), []);
  assert.equal(sent.at(-1)[0], "https://auth.example.com/auth/sessions");
  assert.match(sent.at(-1)[1], /^Bearer /);
  await auth.fetch("https://auth.example.com/auth/sessions"); // auth.fetch: not listed, untouched
  assert.deepEqual(sent.at(-1), ["https://auth.example.com/auth/sessions", null]);
});
