// `auth.axios(instance)` with a real axios (the version tests/test_axios_interop.py installed
// beside this script) over real HTTP: three servers on three origins — the page's, a listed
// API and a third party — record what each is sent. The auth endpoints are faked (a `fetch`
// option), as in the unit tests; the requests under test go out through axios's own adapters.
// Run: `node --test axios_interop.mjs` with TESSERA_STATIC (the client's directory) and
// TESSERA_FAKES (tests/js/fakes.mjs) set.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { after, before, test } from "node:test";
import { pathToFileURL } from "node:url";

import axios from "axios";

const { createAuth } = await import(pathToFileURL(`${process.env.TESSERA_STATIC}/tessera.js`).href);
const { memoryKeys } = await import(pathToFileURL(`${process.env.TESSERA_STATIC}/tessera/keys.js`).href);
const { fakeTime, readProof, token, TTL } = await import(pathToFileURL(process.env.TESSERA_FAKES).href);

const [major, minor] = axios.VERSION.split(".").map(Number);
// Node's default is the http adapter; the fetch adapter (a browser's choice) is there from 1.7,
// adapters by name from 1.2.
const ADAPTERS = major > 1 || minor >= 7 ? ["http", "fetch"] : ["default"];
const chosen = (adapter) => (adapter === "default" ? {} : { adapter });

/** An HTTP server on its own origin that answers 200 and keeps what it was sent. */
function listen() {
  const server = { requests: [] };
  server.http = createServer((request, response) => {
    const { authorization = null, dpop = null } = request.headers;
    server.requests.push({ path: request.url, authorization, dpop });
    response.writeHead(200, { "content-type": "application/json" }).end("{}");
  });
  server.ready = new Promise((resolve) => server.http.listen(0, "127.0.0.1", resolve)).then(() => {
    server.url = `http://127.0.0.1:${server.http.address().port}`;
  });
  return server;
}

const page = listen(); // the page's own origin
const api = listen(); // listed in apiOrigins
const third = listen(); // anyone else: never sees the token
const servers = [page, api, third];
before(() => Promise.all(servers.map((s) => s.ready)));
after(() => Promise.all(servers.map((s) => new Promise((r) => s.http.close(r)))));

/** A client logged in as alice: a Bearer session, or with `dpop` a session bound to a key. */
async function login({ dpop = false } = {}) {
  for (const s of servers) s.requests.length = 0;
  const time = fakeTime(Date.now());
  const authFetch = async (_input, init = {}) => {
    const proof = new Headers(init.headers).get("dpop");
    const jkt = dpop && proof ? (await readProof(proof)).jkt : null;
    const body = { access_token: token(Math.floor(time.now() / 1000)), token_type: jkt ? "DPoP" : "Bearer" };
    return new Response(JSON.stringify({ ...body, expires_in: TTL, session_id: "s1" }), {
      status: 200,
      headers: { "content-type": "application/json" },
    });
  };
  const auth = createAuth({
    fetch: authFetch,
    now: time.now,
    timers: time.timers,
    locks: null,
    channel: null,
    storage: null,
    pageUrl: `${page.url}/app/`,
    apiOrigins: [api.url],
    dpop,
    ...(dpop ? { keys: memoryKeys() } : {}),
  });
  await auth.login("alice", "pw");
  assert.equal(auth.accessToken !== null, true);
  return auth;
}

/** Every request the three servers saw, as [server, path, Authorization scheme, htu]. */
async function seen() {
  const rows = [];
  for (const [name, s] of [["page", page], ["api", api], ["third", third]]) {
    for (const r of s.requests) {
      const htu = r.dpop ? (await readProof(r.dpop)).claims.htu.replace(s.url, "") : null;
      rows.push([name, r.path, r.authorization?.split(" ")[0] ?? null, htu]);
    }
  }
  return rows;
}

for (const adapter of ADAPTERS) {
  test(`axios ${axios.VERSION} (${adapter}): an absolute url is judged by itself, whatever allowAbsoluteUrls says`, async () => {
    const auth = await login();
    const instance = axios.create({ baseURL: `${page.url}/api`, allowAbsoluteUrls: false, ...chosen(adapter) });
    const client = auth.axios(instance);
    await client.get(`${third.url}/collect`); // e.g. an "avatar" or "next" URL from user data
    await client.get("/items");
    const rows = await seen();
    // Where the first request went depends on the axios version (before 1.8, and 1.8.0-1.8.1 in
    // the fetch and xhr adapters, allowAbsoluteUrls is ignored); it never carries the token.
    const collect = rows.filter(([, path]) => path.includes("collect"));
    assert.deepEqual(collect.map(([, , scheme]) => scheme), [null], JSON.stringify(collect));
    assert.deepEqual(rows.filter(([, path]) => path === "/api/items"), [["page", "/api/items", "Bearer", null]]);
  });

  for (const dpop of [false, true]) {
    const kind = dpop ? "DPoP" : "Bearer";
    test(`axios ${axios.VERSION} (${adapter}, ${kind}): an interceptor registered before auth.axios moves requests; the token follows the final URL`, async () => {
      const auth = await login({ dpop });
      const instance = axios.create({ baseURL: page.url, ...chosen(adapter) }); // Node has no page
      // The app's own interceptor, registered first, so that axios runs it after Tessera's.
      instance.interceptors.request.use((config) => {
        if (config.url.startsWith("/cdn/")) config.baseURL = third.url; // a third-party CDN
        if (config.url.startsWith("/v1/")) config.baseURL = api.url; // the listed API
        if (config.url.startsWith("/old/")) config.url = config.url.replace("/old/", "/new/");
        return config;
      });
      const client = auth.axios(instance);
      await client.get("/cdn/logo.png");
      await client.get("/v1/orders");
      await client.get("/old/page");
      await client.get("/plain");
      await client.get(`${third.url}/cdn/direct`);
      const rows = await seen();
      const expected = [
        // Moved within the page's origin, or to a listed one: a Bearer token goes with it; a DPoP
        // proof is of one URL, and the one made before the move would not be the final URL's.
        ["page", "/new/page", dpop ? null : "Bearer", null],
        ["page", "/plain", kind, dpop ? "/plain" : null],
        ["api", "/v1/orders", dpop ? null : "Bearer", null],
        ["third", "/cdn/logo.png", null, null],
        ["third", "/cdn/direct", null, null],
      ];
      assert.deepEqual(rows, expected, JSON.stringify(rows));
    });
  }
}
