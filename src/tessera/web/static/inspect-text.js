// Wording for the decoder page's examination (inspect.js): durations, and attacker-supplied
// values quoted as Python's `json.dumps` and `repr` write them, so that the page and
// `tessera decode` (tessera.inspect.text) word the same findings the same way.

const MAX_SHOWN = 200;

/** A member of `object` only if it is its own (never one inherited, such as `__proto__`). */
export const own = (object, name) => (Object.hasOwn(object, name) ? object[name] : undefined);

/** "4 m 12 s", "3 h", "2 d 1 h": the two largest units, the second only if not zero. */
export function span(seconds) {
  let rest = Math.floor(Math.abs(seconds) + 0.5);
  const amounts = [];
  for (const [unit, size] of [["d", 86400], ["h", 3600], ["m", 60], ["s", 1]]) {
    const left = rest % size;
    amounts.push([(rest - left) / size, unit]);
    rest = left;
  }
  const first = amounts.findIndex(([value]) => value > 0);
  if (first === -1) return "0 s";
  const shown = [amounts[first]];
  if (first + 1 < amounts.length && amounts[first + 1][0] > 0) shown.push(amounts[first + 1]);
  return shown.map(([value, unit]) => `${value} ${unit}`).join(" ");
}


export const shorten = (text) => (text.length <= MAX_SHOWN ? text : `${text.slice(0, MAX_SHOWN - 1)}…`);
const NAMED = { '"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f" };
const hex = (code, width) => code.toString(16).padStart(width, "0");

/** A string as Python's `json.dumps(ensure_ascii=True)` writes it. */
function jsonString(text) {
  let out = '"';
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (Object.hasOwn(NAMED, text[i])) out += NAMED[text[i]];
    else out += code < 0x20 || code > 0x7e ? `\\u${hex(code, 4)}` : text[i];
  }
  return `${out}"`;
}

/** A number as Python writes the int or float that JSON text most likely held. */
function jsonNumber(value) {
  if (Number.isSafeInteger(value)) return String(value);
  if (!Number.isFinite(value)) return value > 0 ? "Infinity" : "-Infinity";
  const [digits, exponent] = value.toExponential().split("e");
  const power = Number(exponent);
  if (power < -4 || power >= 16) {
    return `${digits}e${power < 0 ? "-" : "+"}${String(Math.abs(power)).padStart(2, "0")}`;
  }
  return Number.isInteger(value) ? `${value}.0` : String(value);
}

function pythonJson(value) {
  if (value === null || typeof value === "boolean") return String(value);
  if (typeof value === "number") return jsonNumber(value);
  if (typeof value === "string") return jsonString(value);
  if (Array.isArray(value)) return `[${value.map(pythonJson).join(", ")}]`;
  return `{${Object.entries(value).map(([k, v]) => `${jsonString(k)}: ${pythonJson(v)}`).join(", ")}}`;
}

/** An attacker-supplied value inside a message: JSON-quoted, ASCII, bounded. */
export const quote = (value) => shorten(pythonJson(value === undefined ? null : value));

const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;

/** A string as Python's `repr` writes it (strict JSON's messages use it). */
export function pythonRepr(text) {
  const mark = text.includes("'") && !text.includes('"') ? '"' : "'";
  let out = mark;
  for (const char of text) {
    const code = char.codePointAt(0);
    if (char === mark || char === "\\") out += `\\${char}`;
    else if (char === "\t" || char === "\n" || char === "\r") out += NAMED[char];
    else if ((code >= 0x20 && code < 0x7f) || (code > 0x7f && !UNPRINTABLE.test(char))) out += char;
    else if (code <= 0xff) out += `\\x${hex(code, 2)}`;
    else out += code <= 0xffff ? `\\u${hex(code, 4)}` : `\\U${hex(code, 8)}`;
  }
  return out + mark;
}
