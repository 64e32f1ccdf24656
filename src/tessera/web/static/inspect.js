// Examining a JWT in the browser: the rules of `tessera decode` (the Python package
// `tessera.inspect`), ported rule for rule so that the decoder page and the command say the
// same things about the same token. One table of cases, tests/inspection_cases.json, holds
// both to them (tests/test_inspection_cases.py, tests/js/inspect.test.mjs).
//
// What JavaScript cannot see, it cannot say the same way: JSON.parse reads 1.0 and 1 alike,
// integers past 2^53 approximately, and lists integer-like member names first. So inside a
// quoted value, such numbers and member orders may be worded differently from Python's; and
// exactly ±9007199254740993 reads as 2^53, a NumericDate, where Python refuses it.
import { binding, examineProof, isProof } from "./inspect-dpop.js";
import { own, pythonRepr, quote } from "./inspect-text.js";
import { judgeTimes } from "./inspect-times.js";

const MAX_TOKEN_CHARS = 65536;
const MAX_DEPTH = 256; // lenient reading: deeper is refused, as a recursive parser would
const MAX_INTEGER_DIGITS = 4300; // lenient reading: CPython's int conversion limit
const STRICT_NESTING = 32; // strict reading (tessera.tokens.strict_json)
const KEY_HEADERS = ["jku", "x5u", "jwk", "x5c"];
const ACCESS_TOKEN_TYPES = ["at+jwt", "application/at+jwt"];
// Python's str.strip() removes exactly these (str.isspace).
const SPACE = "\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const EDGE_SPACE = new RegExp(`^[${SPACE}]+|[${SPACE}]+$`, "g");
const ITEM = /"(?:[^"\\]|\\[\s\S])*"|[[{]|[\]}]|-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/g;
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/; // only then can a parsed string hold a lone one
const LONE_SURROGATE = /\p{Cs}/u; // with the u flag, a pair is one character, not Cs
const UTF8 = () => new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** `text` without the white space Python's `str.strip()` removes. */
export function strip(text) {
  return text.replace(EDGE_SPACE, "");
}

// reading the segments -----------------------------------------------------------------------

/** Base64url as forgiving decoders read it: padding, `+`/`/` and stray low bits accepted. */
export function lenientBytes(segment) {
  const text = segment.replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new Error("not base64url");
  if (text.length % 4 === 1) throw new Error("not base64url (impossible length)");
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(text.length / 4) * 4, "=");
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

/** What makes JSON text unfit to parse portably, or null: too deep, or an integer too long. */
function structureProblem(text) {
  let depth = 0;
  for (const [item] of text.matchAll(ITEM)) {
    if (item === "[" || item === "{") {
      if (++depth > MAX_DEPTH) return "is nested too deeply";
    } else if (item === "]" || item === "}") {
      depth -= 1;
    } else if (/^-?[0-9]+$/.test(item) && item.replace("-", "").length > MAX_INTEGER_DIGITS) {
      return `has an integer of more than ${MAX_INTEGER_DIGITS} digits`;
    }
  }
  return null;
}

/** A segment decoded for display (`what`: "header" or "payload"), or an Error saying why not. */
function lenientObject(segment, what) {
  let text;
  try {
    text = UTF8().decode(lenientBytes(segment));
  } catch (error) {
    if (error instanceof TypeError) throw new Error(`the ${what} is not UTF-8`);
    throw new Error(`the ${what} is not base64url-encoded JSON (${error.message})`);
  }
  const problem = structureProblem(text);
  if (problem !== null) throw new Error(`the ${what} ${problem}`);
  let value;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`the ${what} is not base64url-encoded JSON (${error.message})`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new Error(`the ${what} is not a JSON object`);
  }
  return value;
}

const CANONICAL_LAST = { 2: "AQgw", 3: "AEIMQUYcgkosw048" };

/** Canonical unpadded base64url only (tessera.tokens.strict_json.b64url_decode). */
function strictBytes(segment) {
  if (!/^[A-Za-z0-9_-]*$/.test(segment)) throw new Error("segment is not base64url");
  const rest = segment.length % 4;
  if (rest === 1) throw new Error("segment has an impossible length");
  if (rest && !CANONICAL_LAST[rest].includes(segment.at(-1))) {
    throw new Error("segment is not canonical base64url");
  }
  return lenientBytes(segment);
}

/** The first member name repeated in an object of valid JSON text, in the order objects
 * close (the order Python's `object_pairs_hook` sees them), or undefined. */
function firstDuplicate(text) {
  const TOKEN = /\s*("(?:[^"\\]|\\[\s\S])*"|[[\]{}:,]|[^\s[\]{}:,"]+)/y;
  const next = () => TOKEN.exec(text)[1];
  function value(token) {
    if (token !== "{" && token !== "[") return undefined;
    const names = [];
    for (let item = next(); item !== "}" && item !== "]"; item = next()) {
      if (item === ",") continue;
      if (token === "{") {
        names.push(JSON.parse(item));
        next(); // the colon
        item = next();
      }
      const found = value(item);
      if (found !== undefined) return found;
    }
    return names.find((name, i) => names.indexOf(name) < i);
  }
  return value(next());
}

/** Why the strict parser (tessera.tokens.strict_json.loads_object) refuses a segment. */
function strictProblem(segment) {
  let text;
  try {
    text = UTF8().decode(strictBytes(segment));
  } catch (error) {
    return error instanceof TypeError ? "not UTF-8" : error.message;
  }
  const brackets = text.split(/[[{]/).length - 1;
  if (brackets > STRICT_NESTING) {
    let depth = 0;
    let deepest = 0;
    for (const char of text) {
      if (char === "[" || char === "{") deepest = Math.max(deepest, ++depth);
      else if (char === "]" || char === "}") depth -= 1;
    }
    if (deepest > STRICT_NESTING) return "JSON nested too deeply";
  }
  const duplicate = firstDuplicate(text);
  if (duplicate !== undefined) return `duplicate member ${pythonRepr(duplicate)}`;
  if (SURROGATE_ESCAPE.test(text) && hasLoneSurrogate(JSON.parse(text))) return "unpaired surrogate escape";
  return null;
}

/** Whether a parsed value holds a lone surrogate in any string, member names included. */
function hasLoneSurrogate(value) {
  if (typeof value === "string") return LONE_SURROGATE.test(value);
  if (value === null || typeof value !== "object") return false;
  if (Array.isArray(value)) return value.some(hasLoneSurrogate);
  return Object.entries(value).some(([name, item]) => LONE_SURROGATE.test(name) || hasLoneSurrogate(item));
}

function strictWarnings(parts) {
  const found = [];
  for (const [segment, what] of [[parts[0], "header"], [parts[1], "payload"]]) {
    const problem = strictProblem(segment);
    if (problem !== null) {
      found.push(`the ${what} fails strict parsing (${problem}): other parsers may read this token differently, and Tessera rejects it`);
    }
  }
  try {
    strictBytes(parts[2]);
  } catch (error) {
    found.push(`the signature fails strict parsing (${error.message})`);
  }
  return found;
}

// the examination ----------------------------------------------------------------------------

function headerWarnings(header) {
  const found = [];
  const alg = own(header, "alg");
  if (typeof alg !== "string") found.push("the header has no alg");
  else if (alg.toLowerCase() === "none") found.push('alg is "none": the token is not signed at all');
  for (const name of KEY_HEADERS) {
    if (Object.hasOwn(header, name)) {
      found.push(`the header carries "${name}": keys from the token are never used, and a verifier must never take them from there`);
    }
  }
  if (Object.hasOwn(header, "crit")) {
    found.push(`the header has crit ${quote(header.crit)}: verifiers must reject extensions they do not understand`);
  }
  const typ = own(header, "typ");
  if (typ === undefined || typ === null) {
    found.push('no typ: not marked as an access token ("at+jwt", RFC 9068); informational');
  } else if (typeof typ !== "string" || !ACCESS_TOKEN_TYPES.includes(typ.toLowerCase())) {
    found.push(`typ is ${quote(typ)}, not "at+jwt": not an access token by RFC 9068; informational`);
  }
  return found;
}

function unreadable(token) {
  if (!token) return "the token is empty";
  if (token.length > MAX_TOKEN_CHARS && [...token].length > MAX_TOKEN_CHARS) {
    return `the token is longer than ${MAX_TOKEN_CHARS} characters`;
  }
  if (!/^[\x00-\x7f]*$/.test(token)) return "the token contains characters that are not ASCII";
  return null;
}

function encrypted(report, headerSegment) {
  let described = "";
  try {
    report.header = lenientObject(headerSegment, "header");
    described = ` (alg ${quote(own(report.header, "alg"))}, enc ${quote(own(report.header, "enc"))})`;
  } catch {
    // an unreadable JWE header: the JWE is still reported as one
  }
  return `this is an encrypted JWE${described}: it cannot be read without its key`;
}

/** A DPoP proof: what request it is for, its key, its age (its signature is the key's in its
 * own header). */
function examineAsProof(report, parts, now, leeway) {
  const { facts, headerFound, claimsFound, times } = examineProof(report.header, report.claims, now, leeway);
  report.kind = "dpop_proof";
  report.proof = facts;
  report.warnings = [...headerFound, ...strictWarnings(parts), ...claimsFound, ...times.warnings];
  Object.assign(report, { times: times.claims, status: times.status, error: times.error });
  return report;
}

/**
 * Decode `token` and judge its times at `now` (seconds since the epoch). Returns
 * {kind: "token" | "dpop_proof", header, claims, boundTo (a token's cnf.jkt), proof (a DPoP
 * proof's facts: inspect-dpop.js), times: {exp|nbf|iat: {value, date, utc, relative, fromNow}},
 * lifetime, status, warnings, error}. A token's status: "valid" | "expired" | "not_yet_valid" |
 * "no_expiry" | "malformed"; a proof's, by its iat: "fresh" | "stale" | "not_yet_valid" |
 * "malformed".
 */
export function examine(token, { now, leeway = 0 }) {
  const report = { kind: "token", header: null, claims: null, boundTo: null, proof: null };
  Object.assign(report, { times: {}, lifetime: null, status: "malformed", warnings: [], error: null });
  const text = strip(token);
  report.error = unreadable(text);
  if (report.error !== null) return report;
  const parts = text.split(".");
  if (parts.length === 5) {
    report.error = encrypted(report, parts[0]);
    return report;
  }
  if (parts.length !== 3) {
    report.error = `a JWS has 3 dot-separated parts; this has ${parts.length}`;
    return report;
  }
  try {
    report.header = lenientObject(parts[0], "header");
    report.claims = lenientObject(parts[1], "payload");
  } catch (error) {
    report.error = error.message;
    return report;
  }
  if (isProof(report.header)) return examineAsProof(report, parts, now, leeway);
  const times = judgeTimes(report.claims, now, leeway);
  const [boundTo, bindingFound] = binding(report.claims);
  report.warnings = [...headerWarnings(report.header), ...strictWarnings(parts), ...times.warnings, ...bindingFound];
  Object.assign(report, { times: times.claims, lifetime: times.lifetime, boundTo });
  Object.assign(report, { status: times.status, error: times.error });
  return report;
}
