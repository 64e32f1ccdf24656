// Judging a token's `exp`, `nbf` and `iat` at a given moment, as tessera.inspect.times does:
// what each says as a date and relative to now, the token's status, and what looks wrong.
import { quote, span } from "./inspect-text.js";

const MAX_NUMERIC_DATE = 2 ** 53;
const MAX_LIFETIME = 86400;
const TIME_CLAIMS = ["exp", "nbf", "iat"];

/** `value` if it is a NumericDate (a finite number of seconds, at most 2^53), else null. */
export function numericDate(value) {
  const numeric = typeof value === "number" && Number.isFinite(value);
  return numeric && Math.abs(value) <= MAX_NUMERIC_DATE ? value : null;
}

function roundHalfEven(x) {
  const rounded = Math.round(x);
  return Math.abs(x % 1) === 0.5 && rounded % 2 !== 0 ? rounded - 1 : rounded;
}

/** The moment `value` names, rounded to the microsecond as Python's datetime does, or null
 * outside years 1 to 9999. */
function moment(value) {
  let seconds = Math.trunc(value);
  let micros = roundHalfEven((value - seconds) * 1e6);
  if (micros >= 1e6) [seconds, micros] = [seconds + 1, micros - 1e6];
  else if (micros < 0) [seconds, micros] = [seconds - 1, micros + 1e6];
  const date = new Date(seconds * 1000 + Math.floor(micros / 1000));
  const year = date.getUTCFullYear();
  return year >= 1 && year <= 9999 ? date : null;
}

/** One time claim: its value, as a date (null outside years 1 to 9999), and relative to `at`. */
export function timeClaim(name, value, at) {
  const date = moment(value);
  const iso = date?.toISOString();
  const utc = date === null ? null : Number.isInteger(value) ? iso.replace(/\.\d{3}Z$/, "Z") : iso;
  return { value, date, utc, relative: relative(name, value, at), fromNow: value - at };
}

export function relative(claim, value, at) {
  const delta = value - at;
  if (claim === "exp") return delta > 0 ? `expires in ${span(delta)}` : `expired ${span(delta)} ago`;
  if (claim === "nbf") return delta > 0 ? `valid in ${span(delta)}` : `valid since ${span(delta)} ago`;
  return delta > 0 ? `issued in ${span(delta)} (in the future)` : `issued ${span(delta)} ago`;
}

/** The time claims at `at`, with `leeway` seconds of clock skew allowed. */
export function judgeTimes(claims, at, leeway) {
  const found = { claims: {}, lifetime: null, status: "malformed", warnings: [], error: null };
  let bad = false;
  for (const name of TIME_CLAIMS) {
    if (!Object.hasOwn(claims, name)) continue;
    const value = numericDate(claims[name]);
    if (value === null) {
      bad = true;
      found.warnings.push(`${name} is ${quote(claims[name])}: not a NumericDate (seconds since 1970)`);
      continue;
    }
    found.claims[name] = timeClaim(name, value, at);
  }
  const { exp, nbf, iat } = found.claims;
  if (!Object.hasOwn(claims, "exp")) found.warnings.push("no exp: this token never expires");
  if (exp && iat) {
    found.lifetime = exp.value - iat.value;
    if (found.lifetime > MAX_LIFETIME) found.warnings.push(`lifetime is ${span(found.lifetime)}: more than 24 h`);
    else if (found.lifetime <= 0) found.warnings.push("exp is not after iat: the token was never valid");
  }
  if (nbf && nbf.value > at) found.warnings.push(`nbf is in the future (valid in ${span(nbf.value - at)})`);
  if (iat && iat.value > at + leeway) {
    found.warnings.push(`iat is ${span(iat.value - at)} in the future: the issuer's clock and this one disagree`);
  }
  if (bad) found.error = "a time claim is not a NumericDate";
  else if (nbf && at + leeway < nbf.value) found.status = "not_yet_valid";
  else if (!exp) found.status = "no_expiry";
  else if (at >= exp.value + leeway) found.status = "expired";
  else found.status = "valid";
  return found;
}
