/**
 * DPoP proofs (RFC 9449 §4.2) with WebCrypto: a P-256 key whose private half cannot be
 * exported, its RFC 7638 thumbprint, and the compact JWS that proves one request.
 * @module tessera/dpop
 */

const ALGORITHM = { name: "ECDSA", namedCurve: "P-256" };
const SIGNING = { name: "ECDSA", hash: "SHA-256" };
// fetch upper-cases these methods (and only these) before sending: `htm` must match the wire.
const NORMALISED_METHODS = ["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"];

/**
 * A key to prove requests with: the private key (non-extractable), its public JWK and thumbprint.
 * @typedef {object} ProofKey
 * @property {CryptoKey} privateKey
 * @property {{kty: string, crv: string, x: string, y: string}} jwk
 * @property {string} jkt
 */

/** @param {ArrayBuffer | Uint8Array} bytes */
export function b64url(bytes) {
  let text = "";
  for (const byte of new Uint8Array(bytes)) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** @param {string} text */
const utf8 = (text) => new TextEncoder().encode(text);

/** @param {SubtleCrypto} subtle @param {string} text */
async function sha256(subtle, text) {
  return b64url(await subtle.digest("SHA-256", utf8(text)));
}

/**
 * RFC 7638: base64url(SHA-256) of the required members of the public key, in order.
 * @param {SubtleCrypto} subtle @param {{crv: string, kty: string, x: string, y: string}} jwk
 */
export function thumbprint(subtle, jwk) {
  return sha256(subtle, JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }));
}

/** `ath`: base64url(SHA-256) of the access token. @param {SubtleCrypto} subtle @param {string} token */
export function accessTokenHash(subtle, token) {
  return sha256(subtle, token);
}

/**
 * A new key. `extractable: false` binds the private half: no script (ours included) can read
 * it, only ask it to sign. The public half is always exportable, as WebCrypto defines.
 * @param {SubtleCrypto} subtle @returns {Promise<ProofKey>}
 */
export async function generateKey(subtle) {
  const pair = /** @type {CryptoKeyPair} */ (await subtle.generateKey(ALGORITHM, false, ["sign"]));
  const { kty, crv, x, y } = /** @type {any} */ (await subtle.exportKey("jwk", pair.publicKey));
  const jwk = { kty, crv, x, y };
  return { privateKey: pair.privateKey, jwk, jkt: await thumbprint(subtle, jwk) };
}

/** The method as fetch sends it. @param {string} method */
export function wireMethod(method) {
  const upper = method.toUpperCase();
  return NORMALISED_METHODS.includes(upper) ? upper : method;
}

/** `htu`: the absolute URL without query and fragment. @param {string} url */
export function htuOf(url) {
  const parsed = new URL(url);
  parsed.search = "";
  parsed.hash = "";
  return parsed.href;
}

/**
 * A proof for one request: header typ dpop+jwt, alg ES256, the public jwk; claims jti, htm,
 * htu, iat, and `ath` (with an access token) and `nonce` (when the server gave one).
 * @param {SubtleCrypto} subtle @param {ProofKey} key
 * @param {{method: string, url: string, iat: number, accessToken?: string | null, nonce?: string | null}} request
 */
export async function makeProof(subtle, key, { method, url, iat, accessToken = null, nonce = null }) {
  const header = { typ: "dpop+jwt", alg: "ES256", jwk: key.jwk };
  /** @type {Record<string, string | number>} */
  const claims = {
    jti: b64url(crypto.getRandomValues(new Uint8Array(16))),
    htm: wireMethod(method),
    htu: htuOf(url),
    iat: Math.floor(iat),
  };
  if (accessToken) claims.ath = await accessTokenHash(subtle, accessToken);
  if (nonce) claims.nonce = nonce;
  const input = `${b64url(utf8(JSON.stringify(header)))}.${b64url(utf8(JSON.stringify(claims)))}`;
  // WebCrypto's ECDSA signature is r‖s, 64 bytes: exactly JWS's ES256 form (RFC 7518 §3.4).
  const signature = await subtle.sign(SIGNING, key.privateKey, utf8(input));
  return `${input}.${b64url(signature)}`;
}
