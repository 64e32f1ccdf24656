// A DPoP client we did not write: npm `oauth4webapi`, as a Node or browser app would use it
// against Tessera's /oauth/token and a protected API.
// Usage: node oauth4webapi_dpop.mjs METADATA_JSON USERNAME PASSWORD API_URL CAPTURE_URL
// Prints one JSON object: the grants' token types, the access token, the API's answers, and
// how many use_dpop_nonce retries each step needed. CAPTURE_URL records the request (its proof).
import * as oauth from "oauth4webapi";

const [metadataJson, username, password, apiUrl, captureUrl] = process.argv.slice(2);
const as = JSON.parse(metadataJson);
const client = { client_id: "tessera" };
const insecure = { [oauth.allowInsecureRequests]: true }; // the test server is plain http
const keyPair = await oauth.generateKeyPair("ES256");
const DPoP = oauth.DPoP(client, keyPair);
const retries = {};

async function withNonce(step, send, process) {
  // oauth4webapi keeps the nonce a server hands out; a use_dpop_nonce error is retried once.
  retries[step] = 0;
  try {
    return await process(await send());
  } catch (error) {
    if (!oauth.isDPoPNonceError(error)) throw error;
    retries[step] += 1;
    return await process(await send());
  }
}

const grant = (name, params) =>
  withNonce(
    name,
    () => oauth.genericTokenEndpointRequest(as, client, oauth.None(), name, params, { DPoP, ...insecure }),
    (response) => oauth.processGenericTokenEndpointResponse(as, client, response),
  );

const issued = await grant("password", new URLSearchParams({ username, password }));
const refreshed = await withNonce(
  "refresh_token",
  () =>
    oauth.refreshTokenGrantRequest(as, client, oauth.None(), issued.refresh_token, {
      DPoP,
      ...insecure,
    }),
  (response) => oauth.processRefreshTokenResponse(as, client, response),
);
const call = async (url) => {
  const send = () =>
    oauth.protectedResourceRequest(refreshed.access_token, "GET", new URL(url), new Headers(), null, {
      DPoP,
      ...insecure,
    });
  let response = await send();
  if (response.status === 401 && (response.headers.get("www-authenticate") ?? "").includes("use_dpop_nonce")) {
    response = await send();
  }
  return { status: response.status, body: await response.text() };
};
const me = await call(apiUrl);
const captured = await call(captureUrl); // the proof a resource server would receive
console.log(
  JSON.stringify({
    issued: issued.token_type,
    refreshed: refreshed.token_type,
    access_token: refreshed.access_token,
    me,
    captured: captured.status,
    retries,
  }),
);
