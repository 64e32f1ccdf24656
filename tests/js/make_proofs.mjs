// Proofs made by tessera.js's own code (tessera/dpop.js) in Node, for the server's checker.
// Usage: node make_proofs.mjs IAT ACCESS_TOKEN NONCE METHOD URL [METHOD URL …]
// Prints one JSON object: {jkt, proofs: [...]} (ACCESS_TOKEN or NONCE "-" for none).
import { generateKey, makeProof } from "../../src/tessera/web/static/tessera/dpop.js";

const [iat, token, nonce, ...requests] = process.argv.slice(2);
const { subtle } = globalThis.crypto;
const key = await generateKey(subtle);
const proofs = [];
for (let i = 0; i < requests.length; i += 2) {
  const request = { method: requests[i], url: requests[i + 1], iat: Number(iat) };
  const accessToken = token === "-" ? null : token;
  proofs.push(await makeProof(subtle, key, { ...request, accessToken, nonce: nonce === "-" ? null : nonce }));
}
console.log(JSON.stringify({ jkt: key.jkt, proofs }));
