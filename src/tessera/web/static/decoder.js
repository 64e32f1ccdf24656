// The JWT decoder: everything happens here, in the page. The page's Content-Security-Policy
// (connect-src 'none') makes sure nothing, the token least of all, can be sent anywhere. A
// token comes in pasted by hand, or from the demo page that opened this one (postMessage).
(() => {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const MAX_TOKEN = 16384;
  let decoded = null;

  function b64urlBytes(segment) {
    if (!/^[A-Za-z0-9_-]*$/.test(segment)) throw new Error("not base64url");
    const b64 = segment.replace(/-/g, "+").replace(/_/g, "/");
    const text = atob(b64.padEnd(Math.ceil(b64.length / 4) * 4, "="));
    return Uint8Array.from(text, (c) => c.charCodeAt(0));
  }

  function b64urlJson(segment, what) {
    let value;
    try {
      value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(b64urlBytes(segment)));
    } catch (error) {
      throw new Error(`the ${what} is not base64url-encoded JSON (${error.message})`);
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      throw new Error(`the ${what} is not a JSON object`);
    }
    return value;
  }

  function decode(token) {
    if (token.length > MAX_TOKEN) throw new Error(`longer than ${MAX_TOKEN} characters`);
    const parts = token.split(".");
    if (parts.length === 5) throw new Error("this is an encrypted JWE: it cannot be read without its key");
    if (parts.length !== 3) throw new Error(`a JWS has 3 dot-separated parts; this has ${parts.length}`);
    return {
      parts,
      header: b64urlJson(parts[0], "header"),
      payload: b64urlJson(parts[1], "payload"),
    };
  }

  /** "4 m 12 s", "3 h", "2 d 1 h": the two largest units, the second only if not zero. */
  function span(seconds) {
    let rest = Math.abs(Math.round(seconds));
    const parts = [];
    for (const [unit, size] of [["d", 86400], ["h", 3600], ["m", 60], ["s", 1]]) {
      parts.push([Math.floor(rest / size), unit]);
      rest %= size;
    }
    const first = parts.findIndex(([value]) => value > 0);
    if (first === -1) return "0 s";
    const shown = [parts[first]];
    if (first + 1 < parts.length && parts[first + 1][0] > 0) shown.push(parts[first + 1]);
    return shown.map(([value, unit]) => `${value} ${unit}`).join(" ");
  }

  function dateRows(payload) {
    const rows = [];
    for (const [claim, meaning] of [["exp", "expires"], ["nbf", "not before"], ["iat", "issued"]]) {
      const value = payload[claim];
      if (typeof value !== "number") continue;
      const date = new Date(value * 1000);
      rows.push([`${claim} (${meaning})`, String(value), date.toISOString().replace(".000Z", "Z"), date.toString()]);
    }
    return rows;
  }

  function warningsFor(header, payload) {
    const out = [];
    const now = Date.now() / 1000;
    if (typeof header.alg !== "string" || header.alg.toLowerCase() === "none") out.push("alg is \"none\": the token is not signed at all");
    if (typeof payload.exp !== "number") out.push("no exp: this token never expires");
    if (typeof payload.exp === "number" && typeof payload.iat === "number" && payload.exp - payload.iat > 86400) {
      out.push(`lifetime is ${span(payload.exp - payload.iat)}: more than 24 h`);
    }
    if (typeof payload.nbf === "number" && payload.nbf > now) out.push(`nbf is in the future (in ${span(payload.nbf - now)})`);
    if (typeof payload.iat === "number" && payload.iat > now + 60) out.push("iat is in the future: clocks disagree");
    for (const name of ["jku", "x5u", "jwk", "x5c"]) {
      if (name in header) out.push(`header carries "${name}": a verifier must never take keys from the token`);
    }
    if ("crit" in header) out.push("header has crit: verifiers must reject extensions they do not understand");
    if (header.typ !== undefined && !/^(application\/)?at\+jwt$/i.test(String(header.typ))) {
      out.push(`typ is "${header.typ}", not "at+jwt": not an access token by RFC 9068`);
    }
    return out;
  }

  function status(payload) {
    const now = Date.now() / 1000;
    if (typeof payload.nbf === "number" && now < payload.nbf) {
      return ["notyet", "not yet valid", `valid in ${span(payload.nbf - now)}`];
    }
    if (typeof payload.exp !== "number") return ["noexp", "no expiry", ""];
    if (now >= payload.exp) return ["expired", "expired", `expired ${span(now - payload.exp)} ago`];
    return ["valid", "valid", `expires in ${span(payload.exp - now)}`];
  }

  function cell(text, mono) {
    const td = document.createElement("td");
    td.textContent = text;
    if (mono) td.className = "mono";
    return td;
  }

  function render() {
    const token = $("token").value.trim();
    $("decode-error").textContent = "";
    $("verify-result").textContent = "The algorithm comes from the key, never from the token alone.";
    decoded = null;
    for (const id of ["header", "payload", "relative"]) $(id).textContent = "";
    $("warnings").replaceChildren();
    $("times").tBodies[0].replaceChildren();
    $("badge").className = "badge";
    $("badge").textContent = "—";
    if (!token) return;
    try {
      decoded = decode(token);
    } catch (error) {
      $("decode-error").textContent = `Cannot decode: ${error.message}`;
      $("badge").className = "badge invalid";
      $("badge").textContent = "malformed";
      return;
    }
    $("header").textContent = JSON.stringify(decoded.header, null, 2);
    $("payload").textContent = JSON.stringify(decoded.payload, null, 2);
    const header = document.createElement("tr");
    for (const title of ["claim", "value", "UTC", "local time"]) {
      const th = document.createElement("th");
      th.textContent = title;
      header.append(th);
    }
    const rows = dateRows(decoded.payload).map(([a, b, c, d]) => {
      const tr = document.createElement("tr");
      tr.append(cell(a), cell(b, true), cell(c, true), cell(d));
      return tr;
    });
    $("times").tBodies[0].replaceChildren(header, ...rows);
    $("warnings").replaceChildren(
      ...warningsFor(decoded.header, decoded.payload).map((text) => {
        const li = document.createElement("li");
        li.textContent = text;
        return li;
      }),
    );
    tick();
  }

  function tick() {
    if (!decoded) return;
    const [kind, label, relative] = status(decoded.payload);
    $("badge").className = `badge ${kind}`;
    $("badge").textContent = label;
    $("relative").textContent = relative;
  }

  // signature verification with WebCrypto ---------------------------------------------------

  const ALGORITHMS = {
    RS256: { kty: "RSA", import: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, verify: { name: "RSASSA-PKCS1-v1_5" } },
    ES256: { kty: "EC", import: { name: "ECDSA", namedCurve: "P-256" }, verify: { name: "ECDSA", hash: "SHA-256" } },
    EdDSA: { kty: "OKP", import: { name: "Ed25519" }, verify: { name: "Ed25519" } },
    HS256: { kty: "oct", import: { name: "HMAC", hash: "SHA-256" }, verify: { name: "HMAC" } },
  };

  function pemBytes(pem) {
    const body = pem.replace(/-----(BEGIN|END) PUBLIC KEY-----/g, "").replace(/\s+/g, "");
    return Uint8Array.from(atob(body), (c) => c.charCodeAt(0));
  }

  /** Pick the key and algorithm from what was pasted; the header's alg must agree. */
  async function keyFor(material, kind) {
    const alg = decoded.header.alg;
    const spec = ALGORITHMS[alg];
    if (!spec) throw new Error(`unsupported algorithm ${JSON.stringify(alg)}`);
    const text = material.trim();
    if (kind === "secret") {
      if (spec.kty !== "oct") throw new Error(`the token says ${alg}; an HMAC secret cannot verify it`);
      const raw = new TextEncoder().encode(text);
      if (raw.length < 32) throw new Error("the secret is shorter than 256 bits: too weak for HS256");
      return [await crypto.subtle.importKey("raw", raw, spec.import, false, ["verify"]), spec, "HMAC secret"];
    }
    if (text.startsWith("-----BEGIN PUBLIC KEY-----")) {
      if (spec.kty === "oct") throw new Error("a public key cannot verify an HMAC token");
      return [await crypto.subtle.importKey("spki", pemBytes(text), spec.import, false, ["verify"]), spec, "PEM public key"];
    }
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      throw new Error("not JSON, not a PEM public key: choose \"HMAC secret\" for a shared secret");
    }
    const keys = Array.isArray(json.keys) ? json.keys : [json];
    const kid = decoded.header.kid;
    const jwk = keys.find((k) => (kid === undefined || k.kid === kid) && k.kty === spec.kty);
    if (!jwk) throw new Error(kid ? `no ${spec.kty} key with kid ${kid}` : `no ${spec.kty} key`);
    if (jwk.alg && jwk.alg !== alg) throw new Error(`key ${jwk.kid ?? ""} is for ${jwk.alg}, the token says ${alg}`);
    const { d, p, q, dp, dq, qi, ...publicPart } = jwk;
    return [await crypto.subtle.importKey("jwk", { ...publicPart, ext: true }, spec.import, false, ["verify"]), spec, `JWK ${jwk.kid ?? ""}`];
  }

  async function verify() {
    const out = $("verify-result");
    if (!decoded) {
      out.textContent = "Paste a token first.";
      return;
    }
    try {
      const [key, spec, source] = await keyFor($("key").value, $("key-kind").value);
      const [h, p, s] = decoded.parts;
      const ok = await crypto.subtle.verify(spec.verify, key, b64urlBytes(s), new TextEncoder().encode(`${h}.${p}`));
      out.className = ok ? "" : "error";
      out.style.color = ok ? "var(--ok)" : "";
      out.textContent = ok ? `Signature verified (${decoded.header.alg}, ${source}).` : "Signature does NOT verify.";
    } catch (error) {
      out.className = "error";
      out.style.color = "";
      out.textContent = `Cannot verify: ${error.message}`;
    }
  }

  $("token").addEventListener("input", render);
  $("verify").addEventListener("click", verify);
  setInterval(tick, 1000);
  // A token handed over by the page that opened this one ("Open in decoder"), by postMessage:
  // never in the URL, whose fragment would stay in the browser's history. Only the opener, on
  // this very origin, hears "ready" and may answer; after its answer the tie to it is cut.
  const opener = window.opener;
  if (opener) {
    const receive = (event) => {
      if (event.origin !== location.origin || event.source !== opener) return;
      const data = event.data;
      if (data?.type !== "tessera-token" || typeof data.token !== "string") return;
      removeEventListener("message", receive);
      window.opener = null;
      $("token").value = data.token;
      render();
    };
    addEventListener("message", receive);
    opener.postMessage({ type: "tessera-decoder-ready" }, location.origin);
  }
  render();
})();
