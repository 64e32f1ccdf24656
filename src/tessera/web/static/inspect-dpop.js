// DPoP on the decoder page, as tessera.inspect.dpop: a token bound to a key (`cnf.jkt`, RFC 9449
// §6), and a DPoP proof (`typ: dpop+jwt`) examined as what it is, one request's signature judged
// by its `iat` against a short window, never a token with a validity period. The key in a
// proof's header is named by its RFC 7638 thumbprint (WebCrypto's SHA-256 over the canonical
// JSON of the key's required members), the value a bound token's `cnf.jkt` holds.
import { own, quote, span } from "./inspect-text.js";
import { numericDate, timeClaim } from "./inspect-times.js";

export const PROOF_WINDOW = 60; // seconds after its iat a proof stays acceptable (tessera.dpop)
const PROOF_TYPE = "dpop+jwt";
const PROOF_HEADER = ["typ", "alg", "jwk"];
const REQUIRED_CLAIMS = ["jti", "htm", "htu"];
const SHOWN_CLAIMS = ["htm", "htu", "ath", "nonce", "jti"];
const REFUSED = "servers refuse the proof";
// tessera.dpop.keys: the algorithms Tessera accepts, each with its key type and curve.
const PROOF_ALGORITHMS = {
  ES256: ["EC", "P-256"],
  ES384: ["EC", "P-384"],
  EdDSA: ["OKP", "Ed25519"],
  Ed25519: ["OKP", "Ed25519"],
  RS256: ["RSA", null],
  PS256: ["RSA", null],
};
const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];
const THUMBPRINT_MEMBERS = { EC: ["crv", "kty", "x", "y"], OKP: ["crv", "kty", "x"], RSA: ["e", "kty", "n"] };
const JKT = /^[A-Za-z0-9_-]{43}$/;
const ASCII = /^[\x00-\x7f]*$/;

const isObject = (value) => value !== null && typeof value === "object" && !Array.isArray(value);

export function isProof(header) {
  const typ = own(header, "typ");
  return typeof typ === "string" && typ.toLowerCase() === PROOF_TYPE;
}

/** [the thumbprint a token is bound to (`cnf.jkt`) or null, what is wrong with its `cnf`]. */
export function binding(claims) {
  if (!Object.hasOwn(claims, "cnf")) return [null, []];
  const jkt = isObject(claims.cnf) ? own(claims.cnf, "jkt") : undefined;
  if (typeof jkt === "string" && JKT.test(jkt)) return [jkt, []];
  return [
    null,
    [`cnf is ${quote(claims.cnf)}: not a DPoP key binding (cnf.jkt, a SHA-256 thumbprint), and Tessera refuses the token`],
  ];
}

/** [the key's description, the canonical JSON its thumbprint hashes], or nulls when it is no
 * EC, OKP or RSA key (members that are not ASCII strings included). */
function keyOf(jwk) {
  const kty = own(jwk, "kty");
  const members = typeof kty === "string" ? own(THUMBPRINT_MEMBERS, kty) : undefined;
  if (!members || !members.every((m) => typeof own(jwk, m) === "string" && ASCII.test(jwk[m]))) return [null, null];
  const canonical = `{${members.map((m) => `${JSON.stringify(m)}:${JSON.stringify(jwk[m])}`).join(",")}}`;
  return [members.includes("crv") ? `${kty} ${jwk.crv}` : kty, canonical];
}

/** RFC 7638: base64url(SHA-256) of the canonical JSON `keyOf` made (WebCrypto: a secure
 * context, https or localhost, is needed). */
export async function thumbprint(canonical) {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(canonical)));
  return btoa(String.fromCharCode(...digest)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function privateWarning(jwk) {
  const names = Object.keys(jwk).filter((name) => PRIVATE_MEMBERS.includes(name));
  if (names.length === 0) return [];
  const listed = names.map((name) => `"${name}"`).join(", ");
  return [
    `THE PROOF'S jwk HOLDS A PRIVATE KEY (${listed}): anyone who has seen this proof has the key; ${REFUSED}, and the client must stop using that key`,
  ];
}

function proofHeaderWarnings(header, jwk) {
  const found = [];
  const alg = own(header, "alg");
  const allowed = typeof alg === "string" && Object.hasOwn(PROOF_ALGORITHMS, alg);
  if (typeof alg !== "string") found.push("the header has no alg");
  else if (alg.toLowerCase() === "none") found.push('alg is "none": the proof is not signed at all');
  else if (!allowed) {
    found.push(`alg ${quote(alg)} is not one Tessera accepts for DPoP proofs (${Object.keys(PROOF_ALGORITHMS).join(", ")}): ${REFUSED}`);
  }
  if (jwk === null) found.push(`the header has no jwk (a JSON object): ${REFUSED}`);
  else if (keyOf(jwk)[1] === null) found.push(`the jwk is not an EC, OKP or RSA public key: no thumbprint, and ${REFUSED}`);
  else if (allowed) {
    const [kty, crv] = PROOF_ALGORITHMS[alg];
    if (own(jwk, "kty") !== kty || (crv !== null && own(jwk, "crv") !== crv)) found.push(`the jwk is not a key for ${alg}: ${REFUSED}`);
  }
  const extra = Object.keys(header).filter((name) => !PROOF_HEADER.includes(name));
  if (extra.length > 0) {
    found.push(`header parameters a DPoP proof does not use (${extra.map(quote).join(", ")}): ${REFUSED}`);
  }
  return found;
}

function proofClaimWarnings(claims) {
  const found = REQUIRED_CLAIMS.filter((name) => typeof own(claims, name) !== "string" || claims[name] === "").map(
    (name) => `${name} is missing or not a string: ${REFUSED}`,
  );
  const htu = own(claims, "htu");
  if (typeof htu === "string" && (htu.includes("?") || htu.includes("#"))) {
    found.push("htu has a query or fragment: servers compare it without them");
  }
  return found;
}

/** A proof's `iat` at `at`: fresh within the window (and `leeway`), stale after it. */
function proofTimes(claims, at, leeway) {
  const found = { claims: {}, status: "malformed", warnings: [], error: null };
  for (const name of ["exp", "nbf"]) {
    if (Object.hasOwn(claims, name)) {
      found.warnings.push(`the proof carries ${name}: a proof is not a token, and servers judge it by its iat alone`);
    }
  }
  if (!Object.hasOwn(claims, "iat")) {
    found.warnings.push(`no iat: ${REFUSED}`);
    found.error = "a DPoP proof needs an iat";
    return found;
  }
  const value = numericDate(claims.iat);
  if (value === null) {
    found.warnings.push(`iat is ${quote(claims.iat)}: not a NumericDate (seconds since 1970)`);
    found.error = "a time claim is not a NumericDate";
    return found;
  }
  found.claims.iat = timeClaim("iat", value, at);
  if (value > at + leeway) {
    found.warnings.push(`iat is ${span(value - at)} in the future: the client's clock and this one disagree`);
    found.status = "not_yet_valid";
  } else {
    found.status = at - value > PROOF_WINDOW + leeway ? "stale" : "fresh";
  }
  return found;
}

/**
 * A proof's facts — {claims: {htm, htu, ath, nonce, jti}, key, canonical (what its thumbprint
 * hashes; `thumbprint(canonical)`), privateKey, age, withinWindow} — the warnings on its header
 * (the private key first) and on its claims, and its times.
 */
export function examineProof(header, claims, at, leeway) {
  const jwk = isObject(own(header, "jwk")) ? header.jwk : null;
  const [key, canonical] = jwk === null ? [null, null] : keyOf(jwk);
  const facts = {
    claims: Object.fromEntries(SHOWN_CLAIMS.map((name) => [name, own(claims, name) ?? null])),
    key,
    canonical,
    privateKey: jwk !== null && Object.keys(jwk).some((name) => PRIVATE_MEMBERS.includes(name)),
    age: null,
    withinWindow: null,
  };
  const headerFound = [...privateWarning(jwk ?? {}), ...proofHeaderWarnings(header, jwk)];
  const times = proofTimes(claims, at, leeway);
  if (times.claims.iat) {
    facts.age = at - times.claims.iat.value;
    facts.withinWindow = times.status === "fresh";
  }
  return { facts, headerFound, claimsFound: proofClaimWarnings(claims), times };
}
