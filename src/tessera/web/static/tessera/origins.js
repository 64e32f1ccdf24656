/**
 * Which origins may receive the access token: the page's own and the listed ones, exact.
 * @module tessera/origins
 */

/**
 * A parsed URL, or null (`URL.canParse` is too recent for some browsers still in use).
 * @param {string} text @param {string} [base]
 */
export function parseUrl(text, base) {
  try {
    return new URL(text, base);
  } catch {
    return null;
  }
}

/**
 * The origins that may receive the access token: the page's own and the listed ones, exact.
 * A listed entry must be a bare http(s) origin; a plain-http one on an https page is refused,
 * since the token would then cross the network in clear.
 * @param {unknown} listed @param {string | undefined} ownOrigin
 * @returns {Set<string>}
 */
export function trustedOrigins(listed, ownOrigin) {
  if (!Array.isArray(listed)) throw new TypeError("apiOrigins must be an array of origins");
  const origins = new Set(ownOrigin && ownOrigin !== "null" ? [ownOrigin] : []);
  for (const entry of listed) {
    const shown = JSON.stringify(entry);
    const url = typeof entry === "string" ? parseUrl(entry) : null;
    const bare = url && !url.username && !url.password && url.pathname === "/" && !url.search && !url.hash;
    if (!url || !bare || !["https:", "http:"].includes(url.protocol)) {
      throw new TypeError(`apiOrigins: ${shown} is not an origin like "https://api.example.com"`);
    }
    if (url.protocol === "http:" && ownOrigin?.startsWith("https:")) {
      throw new TypeError(`apiOrigins: ${shown} is plain http; an https page never sends its token in clear`);
    }
    origins.add(url.origin);
  }
  return origins;
}
