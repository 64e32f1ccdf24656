/**
 * The client's state: one frozen snapshot, replaced whole by the transitions below (as the
 * Python client's `_State` is), so no reader ever sees half an update — a new token with the
 * old generation, or a logout that kept the token.
 * @module tessera/state
 */

const MAX_LEAD_MS = 60_000;
const BACKOFF_MS = [1_000, 2_000, 5_000, 10_000, 30_000, 60_000];

/**
 * The current access token.
 * @typedef {object} Session
 * @property {string} token
 * @property {number} localExp local expiry, ms since the epoch: anchored at receipt, never the raw `exp`
 * @property {number} lifetime the token's lifetime (`exp` − `iat`), ms
 * @property {string | null} sessionId
 * @property {"Bearer" | "DPoP"} scheme how to send it: a DPoP token only with a proof by its key
 * @property {string | null} jkt the thumbprint of the key a DPoP token is bound to (`cnf.jkt`)
 */

/**
 * @typedef {object} State
 * @property {Readonly<Session> | null} session
 * @property {number} generation bumps with every new access token, here or from another tab
 * @property {number} epoch bumps on login and logout: a refresh begun before them is discarded
 * @property {boolean} ended /refresh said 401, or a logout: no refreshes until a login
 * @property {number} failures refreshes failed in a row (the back-off step)
 * @property {number} notBefore back-off: no refresh attempt before this time (ms)
 */

/** @type {Readonly<State>} */
export const INITIAL = Object.freeze({ session: null, generation: 0, epoch: 0, ended: false, failures: 0, notBefore: 0 });

/**
 * A new access token (a refresh here, or one handed over by another tab): a new generation,
 * the session live again, the back-off forgotten.
 * @param {Readonly<State>} state @param {Session} session @returns {Readonly<State>}
 */
export function installed(state, session) {
  return Object.freeze({
    ...state,
    session: Object.freeze({ ...session }),
    generation: state.generation + 1,
    ended: false,
    failures: 0,
    notBefore: 0,
  });
}

/**
 * A login's token: `installed`, in a new epoch.
 * @param {Readonly<State>} state @param {Session} session @returns {Readonly<State>}
 */
export function loggedIn(state, session) {
  return installed({ ...state, epoch: state.epoch + 1 }, session);
}

/**
 * The session is over (logout, here or in another tab, or /refresh said 401).
 * @param {Readonly<State>} state @returns {Readonly<State>}
 */
export function ended(state) {
  return Object.freeze({ ...state, session: null, generation: state.generation + 1, epoch: state.epoch + 1, ended: true });
}

/**
 * A page load may find a session in the cookie: refreshes are allowed again.
 * @param {Readonly<State>} state @returns {Readonly<State>}
 */
export function resumed(state) {
  return Object.freeze({ ...state, ended: false });
}

/**
 * The server refused this token and the request could not be replayed: refresh before the
 * next use.
 * @param {Readonly<State>} state @returns {Readonly<State>}
 */
export function rejected(state) {
  const session = state.session && Object.freeze({ ...state.session, localExp: 0 });
  return Object.freeze({ ...state, session });
}

/**
 * How long to wait after a refresh failed for a reason that may go away: the next back-off
 * step, or `Retry-After` when the server asks for longer.
 * @param {Readonly<State>} state @param {number} retryAfterMs
 */
export function backoffMs(state, retryAfterMs) {
  return Math.max(retryAfterMs, BACKOFF_MS[Math.min(state.failures, BACKOFF_MS.length - 1)]);
}

/**
 * A refresh failed: one more failure, and no attempt before `notBefore`.
 * @param {Readonly<State>} state @param {number} notBefore @returns {Readonly<State>}
 */
export function backedOff(state, notBefore) {
  return Object.freeze({ ...state, failures: state.failures + 1, notBefore });
}

/** How long before expiry to refresh: min(60 s, a third of the lifetime). @param {Readonly<Session> | null} session */
export function leadMs(session) {
  return session ? Math.min(MAX_LEAD_MS, session.lifetime / 3) : 0;
}

/** A token not yet due for a refresh. @param {Readonly<State>} state @param {number} now */
export function fresh(state, now) {
  return state.session !== null && now < state.session.localExp - leadMs(state.session);
}

/** A token not yet expired. @param {Readonly<State>} state @param {number} now */
export function usable(state, now) {
  return state.session !== null && now < state.session.localExp;
}

/**
 * The session a token response opens, its expiry anchored at receipt (local clock), and the
 * clock skew seen (null when the token's claims cannot be read).
 * @param {any} body @param {number} receivedAt
 * @returns {{session: Session, skewMs: number | null}}
 */
export function sessionOf(body, receivedAt) {
  const claims = claimsOf(body.access_token);
  const lifetime = claims.lifetimeMs ?? Number(body.expires_in) * 1000;
  const session = {
    token: body.access_token,
    localExp: receivedAt + lifetime,
    lifetime,
    sessionId: body.session_id ?? null,
    scheme: body.token_type === "DPoP" ? /** @type {const} */ ("DPoP") : /** @type {const} */ ("Bearer"),
    jkt: claims.jkt,
  };
  return { session, skewMs: claims.iatMs === null ? null : claims.iatMs - receivedAt };
}

/**
 * What the client reads from the access token's claims: its lifetime (`exp` − `iat`, ms), its
 * `iat` (ms) and the key it is bound to (`cnf.jkt`); null where unreadable.
 * @param {string} token
 */
function claimsOf(token) {
  const read = { lifetimeMs: /** @type {number | null} */ (null), iatMs: /** @type {number | null} */ (null), jkt: /** @type {string | null} */ (null) };
  try {
    const segment = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const claims = JSON.parse(atob(segment.padEnd(Math.ceil(segment.length / 4) * 4, "=")));
    if (typeof claims.exp === "number" && typeof claims.iat === "number" && claims.exp > claims.iat) {
      read.lifetimeMs = (claims.exp - claims.iat) * 1000;
      read.iatMs = claims.iat * 1000;
    }
    if (typeof claims.cnf?.jkt === "string") read.jkt = claims.cnf.jkt;
  } catch {
    /* not a JWT we can read: fall back to expires_in */
  }
  return read;
}
