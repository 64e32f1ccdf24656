// Unit tests of the DPoP proof format (tessera/dpop.js) with Node's WebCrypto: every proof is
// checked here by other code (node:crypto for hashes, a fresh import of the public key).
import assert from "node:assert/strict";
import { test } from "node:test";

import { generateKey, htuOf, makeProof, wireMethod } from "../../src/tessera/web/static/tessera/dpop.js";
import { ath, readProof } from "./fakes.mjs";

const { subtle } = globalThis.crypto;

test("the key is P-256, its private half not extractable, its thumbprint RFC 7638's", async () => {
  const key = await generateKey(subtle);
  assert.equal(key.privateKey.extractable, false);
  assert.deepEqual(key.privateKey.usages, ["sign"]);
  assert.deepEqual(key.privateKey.algorithm, { name: "ECDSA", namedCurve: "P-256" });
  for (const format of ["jwk", "pkcs8"]) {
    await assert.rejects(subtle.exportKey(format, key.privateKey), { name: /^InvalidAccess/ }); // Node says …Exception
  }
  assert.deepEqual(Object.keys(key.jwk).sort(), ["crv", "kty", "x", "y"]); // public members only
  const proof = await makeProof(subtle, key, { method: "POST", url: "https://a.example/auth/login", iat: 1 });
  assert.equal((await readProof(proof)).jkt, key.jkt);
});

test("a proof: typ dpop+jwt, ES256, the public jwk; jti, htm, htu, iat; a signature that verifies", async () => {
  const key = await generateKey(subtle);
  const proof = await makeProof(subtle, key, {
    method: "post",
    url: "https://auth.example.com:8443/auth/refresh?x=1#frag",
    iat: 1_800_000_000.9,
  });
  const { header, claims, valid } = await readProof(proof);
  assert.equal(valid, true);
  assert.deepEqual(header, { typ: "dpop+jwt", alg: "ES256", jwk: key.jwk });
  assert.deepEqual(Object.keys(claims).sort(), ["htm", "htu", "iat", "jti"]); // no ath, no nonce
  assert.equal(claims.htm, "POST");
  assert.equal(claims.htu, "https://auth.example.com:8443/auth/refresh"); // no query, no fragment
  assert.equal(claims.iat, 1_800_000_000); // a whole NumericDate
  assert.match(claims.jti, /^[A-Za-z0-9_-]{22}$/); // 16 random bytes
  const again = await readProof(await makeProof(subtle, key, { method: "POST", url: claims.htu, iat: 1 }));
  assert.notEqual(again.claims.jti, claims.jti);
});

test("with an access token and a nonce: ath is the token's SHA-256, the nonce as given", async () => {
  const key = await generateKey(subtle);
  const accessToken = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln";
  const proof = await makeProof(subtle, key, {
    method: "GET",
    url: "https://api.example.com/api/me",
    iat: 5,
    accessToken,
    nonce: "n-1",
  });
  const { claims, valid } = await readProof(proof);
  assert.equal(valid, true);
  assert.equal(claims.ath, ath(accessToken));
  assert.equal(claims.nonce, "n-1");
});

test("a tampered proof does not verify", async () => {
  const key = await generateKey(subtle);
  const proof = await makeProof(subtle, key, { method: "GET", url: "https://a.example/x", iat: 5 });
  const [h, , s] = proof.split(".");
  const claims = Buffer.from(JSON.stringify({ htm: "POST" })).toString("base64url");
  assert.equal((await readProof(`${h}.${claims}.${s}`)).valid, false);
});

test("htm is the method fetch sends: the six standard ones upper-cased, others as given", () => {
  assert.deepEqual(
    ["get", "post", "Put", "delete", "head", "options", "patch", "PATCH"].map(wireMethod),
    ["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "patch", "PATCH"],
  );
  assert.equal(htuOf("https://a.example/p/q?r=s"), "https://a.example/p/q");
  assert.equal(htuOf("https://a.example"), "https://a.example/");
});
