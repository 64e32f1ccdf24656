// Verifies access tokens the way a Node service would: the `jose` package's remote JWKS
// (createRemoteJWKSet) and jwtVerify, pinned to one algorithm and the RFC 9068 `typ`.
// Usage: node jose_verify.mjs JWKS_URL ISSUER AUDIENCE ALG TOKEN...
// Prints one JSON array: per token {ok, payload, header} or {ok: false, code}.
import { createRemoteJWKSet, jwtVerify } from "jose";

const [jwksUrl, issuer, audience, alg, ...tokens] = process.argv.slice(2);
const jwks = createRemoteJWKSet(new URL(jwksUrl));
const results = [];
for (const token of tokens) {
  try {
    const { payload, protectedHeader } = await jwtVerify(token, jwks, {
      issuer,
      audience,
      algorithms: [alg],
      typ: "at+jwt",
      requiredClaims: ["iss", "exp", "aud", "sub", "client_id", "iat", "jti"],
    });
    results.push({ ok: true, payload, header: protectedHeader });
  } catch (error) {
    results.push({ ok: false, code: error.code ?? error.name });
  }
}
console.log(JSON.stringify(results));
