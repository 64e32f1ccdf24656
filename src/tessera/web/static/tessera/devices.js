/**
 * "Your devices": the user's sessions, and signing one or all the others out — through the
 * client's own authenticated path (fresh token, DPoP proof, one refresh and retry on a 401).
 * @module tessera/devices
 */

import { RequestError } from "./errors.js";

/**
 * One session as the client hands it out: the server's item, times in ms since the epoch.
 * @typedef {object} DeviceSession
 * @property {string} id
 * @property {string | null} device "Chrome on Linux", … (null: not recognised)
 * @property {string | null} ip
 * @property {string | null} userAgent
 * @property {number} createdAt
 * @property {number} lastUsedAt
 * @property {number} expiresAt
 * @property {number} refreshExpiresAt
 * @property {boolean} current the session of this browser
 */

/** @param {any} item @returns {DeviceSession} */
function sessionOf(item) {
  const ms = (/** @type {unknown} */ seconds) => Math.round(Number(seconds) * 1000);
  return {
    id: String(item.id),
    device: item.device ?? null,
    ip: item.ip ?? null,
    userAgent: item.user_agent ?? null,
    createdAt: ms(item.created_at),
    lastUsedAt: ms(item.last_used_at),
    expiresAt: ms(item.expires_at),
    refreshExpiresAt: ms(item.refresh_expires_at),
    current: item.current === true,
  };
}

/** The server's refusal as a `RequestError`. @param {Response} response */
async function refusal(response) {
  const body = await response.json().catch(() => ({}));
  return new RequestError(body?.error ?? "error", body?.error_description ?? "", response.status);
}

/**
 * @param {{baseUrl: string, send: (url: string, init: RequestInit) => Promise<Response>,
 *   sessionId: () => string | null, logout: () => Promise<void>}} deps
 */
export function createDevices({ baseUrl, send, sessionId, logout }) {
  const list = `${baseUrl}/sessions`;
  return {
    /** The user's active sessions, newest first; this browser's has `current: true`. */
    async sessions() {
      const response = await send(list, { headers: { Accept: "application/json" } });
      if (!response.ok) throw await refusal(response);
      const body = await response.json();
      return /** @type {DeviceSession[]} */ ((body.sessions ?? []).map(sessionOf));
    },

    /**
     * Sign one session out; false when the user has none by that id (404). This browser's own
     * is a logout (in every tab).
     * @param {string} id
     */
    async revokeSession(id) {
      if (typeof id !== "string" || id === "") throw new TypeError("revokeSession: a session id");
      if (id === sessionId()) {
        await logout();
        return true;
      }
      const response = await send(`${list}/${encodeURIComponent(id)}`, { method: "DELETE" });
      if (response.status === 404) return false;
      if (!response.ok) throw await refusal(response);
      return true;
    },

    /** Sign out every other session of the user; this one goes on. */
    async revokeOtherSessions() {
      const response = await send(`${list}?except=current`, { method: "DELETE" });
      if (!response.ok) throw await refusal(response);
    },
  };
}
