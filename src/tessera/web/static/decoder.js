// The JWT decoder page: everything happens here, in the page. The page's Content-Security-Policy
// (connect-src 'none') makes sure nothing, the token least of all, can be sent anywhere. A
// token comes in pasted by hand, or from the demo page that opened this one (postMessage).
// What the page says about a token is inspect.js's examination, the rules of `tessera decode`;
// the server inlines inspect.js (and the modules it imports) in place of the imports below
// (web/assets.py), so the page stays one self-contained document.
import { examine, lenientBytes, strip } from "./inspect.js";
import { PROOF_WINDOW, thumbprint } from "./inspect-dpop.js";

(() => {
  const $ = (id) => document.getElementById(id);
  const BADGES = {
    valid: ["valid", "valid"],
    expired: ["expired", "expired"],
    not_yet_valid: ["notyet", "not yet valid"],
    no_expiry: ["noexp", "no expiry"],
    malformed: ["invalid", "malformed"],
    fresh: ["valid", "fresh proof"],
    stale: ["expired", "stale proof"],
  };
  const MEANING = { exp: "expires", nbf: "not before", iat: "issued" };
  let shown = null; // {parts, header} of a readable token on the page
  let rendered = 0; // renders so far: a thumbprint computed for an earlier one is dropped

  const now = () => Date.now() / 1000;

  function cell(text, mono, tag = "td") {
    const element = document.createElement(tag);
    element.textContent = text;
    if (mono) element.className = "mono";
    return element;
  }

  /** "expires in …", "valid in …": the detail `tessera decode` prints beside its status. */
  function detail(report) {
    const { exp, nbf, iat } = report.times;
    if (report.kind === "dpop_proof") {
      if (!iat) return report.error ?? "";
      return `${iat.relative}; ${report.status === "fresh" ? "within" : "outside"} the ${PROOF_WINDOW} s window`;
    }
    if ((report.status === "valid" || report.status === "expired") && exp) return exp.relative;
    if (report.status === "not_yet_valid" && nbf) return nbf.relative;
    return report.status === "no_expiry" ? "never expires" : "";
  }

  function showStatus(report) {
    const [kind, label] = report.proof?.privateKey ? ["invalid", "private key exposed"] : BADGES[report.status];
    $("badge").className = `badge ${kind}`;
    $("badge").textContent = label;
    $("relative").textContent = detail(report);
    if (report.proof?.age != null) {
      const where = report.proof.withinWindow ? "within" : "outside";
      $("dpop-age").textContent = `${report.times.iat.relative}: ${where} the ${PROOF_WINDOW} s window`;
    }
    const warnings = $("warnings");
    if (warnings.dataset.shown === JSON.stringify(report.warnings)) return; // keep a selection
    warnings.dataset.shown = JSON.stringify(report.warnings);
    warnings.replaceChildren(...report.warnings.map((text) => cell(text, false, "li")));
  }

  function render() {
    const token = strip($("token").value);
    $("decode-error").textContent = "";
    $("verify-result").textContent = "The algorithm comes from the key, never from the token alone.";
    shown = null;
    for (const id of ["header", "payload", "relative"]) $(id).textContent = "";
    $("warnings").replaceChildren();
    delete $("warnings").dataset.shown;
    $("times").tBodies[0].replaceChildren();
    showDpop(null);
    $("badge").className = "badge";
    $("badge").textContent = "—";
    if (!token) return;
    const report = examine(token, { now: now() });
    if (report.header !== null) $("header").textContent = JSON.stringify(report.header, null, 2);
    if (report.claims !== null) {
      $("payload").textContent = JSON.stringify(report.claims, null, 2);
      shown = { parts: token.split("."), header: report.header };
      const head = document.createElement("tr");
      head.append(...["claim", "value", "UTC", "local time"].map((title) => cell(title, false, "th")));
      const rows = Object.entries(report.times).map(([claim, time]) => {
        const row = document.createElement("tr");
        const local = time.date === null ? "(out of range)" : time.date.toString();
        row.append(
          cell(`${claim} (${MEANING[claim]})`),
          cell(String(time.value), true),
          cell(time.utc ?? "(out of range)", true),
          cell(local),
        );
        return row;
      });
      $("times").tBodies[0].replaceChildren(head, ...rows);
    }
    if (report.error !== null) {
      $("decode-error").textContent = report.claims === null ? `Cannot decode: ${report.error}` : report.error;
    }
    showDpop(report);
    showStatus(report);
  }

  // DPoP: a token's binding, or a proof's facts ---------------------------------------------

  function row(name, value, id, loud = false) {
    const line = document.createElement("tr");
    const shownValue = cell(value, true);
    if (id) shownValue.id = id;
    if (loud) shownValue.className = "mono loud";
    line.append(cell(name, false, "th"), shownValue);
    return line;
  }

  /** A claim's value on one line: a string as it is, anything else as JSON. */
  const claimText = (value, absent) => (value === null ? absent : typeof value === "string" ? value : JSON.stringify(value));

  function proofRows(proof) {
    const rows = Object.entries(proof.claims).map(([name, value]) => {
      const absent = ["htm", "htu", "jti"].includes(name) ? "(missing)" : "(none)";
      const note = name === "ath" && value !== null ? "  (SHA-256 of the access token it goes with)" : "";
      return row(name, claimText(value, absent) + note, `dpop-${name}`);
    });
    rows.push(row("key", proof.key ?? "(no usable public key)", "dpop-key"));
    rows.push(row("thumbprint", proof.canonical === null ? "(none)" : "computing…", "dpop-jkt"));
    if (proof.privateKey) rows.push(row("private key", "EXPOSED: the jwk holds a private key", "dpop-private", true));
    rows.push(row("age", "(no iat)", "dpop-age"));
    return rows;
  }

  /** The key's RFC 7638 thumbprint, once WebCrypto has hashed it, unless the page moved on. */
  function showThumbprint(canonical) {
    const render = rendered;
    const out = $("dpop-jkt");
    if (!globalThis.crypto?.subtle) {
      out.textContent = "needs WebCrypto: open this page over https or on localhost";
      return;
    }
    thumbprint(canonical).then(
      (jkt) => {
        if (render === rendered) out.textContent = `${jkt} (RFC 7638)`;
      },
      (error) => {
        if (render === rendered) out.textContent = `cannot compute: ${error.message}`;
      },
    );
  }

  function showDpop(report) {
    rendered += 1;
    const card = $("dpop-card");
    const body = $("dpop").tBodies[0];
    if (report?.boundTo) {
      $("dpop-title").textContent = "Bound to a key (DPoP)";
      $("dpop-note").textContent =
        "Usable only with a DPoP proof for each request, signed by the key with this RFC 7638 thumbprint.";
      body.replaceChildren(row("cnf.jkt", report.boundTo, "dpop-bound"));
    } else if (report?.proof) {
      $("dpop-title").textContent = "DPoP proof";
      $("dpop-note").textContent = "One request's signature, not a token: judged by its iat against a short window, never by an exp.";
      body.replaceChildren(...proofRows(report.proof));
      if (report.proof.canonical !== null) showThumbprint(report.proof.canonical);
    } else {
      card.hidden = true;
      body.replaceChildren();
      return;
    }
    card.hidden = false;
  }

  function tick() {
    const token = strip($("token").value);
    if (shown !== null) showStatus(examine(token, { now: now() }));
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

  /** The JWK to verify with, by the rules `tessera decode --jwks` and the verifier use
   * (tessera/tokens/jwks.py): only entries with a kid, for signatures, public, the first of a
   * kid; the token's kid picks one, and without a kid only a lone key is used. */
  function jwkFor(json) {
    const entries = Array.isArray(json.keys) ? json.keys : [json];
    const usable = entries.filter(
      (k, i) =>
        k !== null && typeof k === "object" && typeof k.kid === "string" && k.kty !== "oct" &&
        (k.use === undefined || k.use === "sig") &&
        (k.key_ops === undefined || (Array.isArray(k.key_ops) && k.key_ops.includes("verify"))) &&
        entries.findIndex((other) => other?.kid === k.kid) === i,
    );
    const kid = shown.header.kid;
    if (kid === undefined) {
      if (usable.length === 1) return usable[0];
      throw new Error(`the token has no kid and the key set has ${usable.length} usable keys`);
    }
    const jwk = usable.find((k) => k.kid === kid);
    if (!jwk) throw new Error(`no usable key with kid ${JSON.stringify(kid)}`);
    return jwk;
  }

  /** The key and its algorithm, from what was pasted; the header's alg must agree. */
  async function keyFor(material, kind) {
    const alg = shown.header.alg;
    const spec = Object.hasOwn(ALGORITHMS, alg) ? ALGORITHMS[alg] : null;
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
      throw new Error('not JSON, not a PEM public key: choose "HMAC secret" for a shared secret');
    }
    if (json === null || typeof json !== "object") throw new Error("not a JWKS or a JWK");
    const jwk = jwkFor(json);
    if (jwk.kty !== spec.kty) throw new Error(`key ${jwk.kid} is ${jwk.kty}, the token says ${alg}`);
    if (jwk.alg && jwk.alg !== alg) throw new Error(`key ${jwk.kid} is for ${jwk.alg}, the token says ${alg}`);
    const { d, p, q, dp, dq, qi, ...publicPart } = jwk;
    return [await crypto.subtle.importKey("jwk", { ...publicPart, ext: true }, spec.import, false, ["verify"]), spec, `JWK ${jwk.kid}`];
  }

  async function verify() {
    const out = $("verify-result");
    if (!shown) {
      out.textContent = "Paste a token first.";
      return;
    }
    try {
      const [key, spec, source] = await keyFor($("key").value, $("key-kind").value);
      const [h, p, s] = shown.parts;
      const ok = await crypto.subtle.verify(spec.verify, key, lenientBytes(s), new TextEncoder().encode(`${h}.${p}`));
      out.className = ok ? "" : "error";
      out.style.color = ok ? "var(--ok)" : "";
      out.textContent = ok ? `Signature verified (${shown.header.alg}, ${source}).` : "Signature does NOT verify.";
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
