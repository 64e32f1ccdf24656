/**
 * The errors `tessera.js` throws (exported from it).
 * @module tessera/errors
 */

/** A refresh that failed for a reason that may go away (network, 5xx, 429, lock timeout). */
export class TransientError extends Error {
  /** @param {string} message @param {number} [status] @param {number} [retryAfterMs] */
  constructor(message, status = 0, retryAfterMs = 0) {
    super(message);
    this.name = "TransientError";
    this.status = status;
    this.retryAfterMs = retryAfterMs;
  }
}

/** The server refused a login; `code` is the contract's error code. */
export class LoginError extends Error {
  /** @param {string} code @param {string} description @param {number} status */
  constructor(code, description, status) {
    super(`${code}: ${description}`);
    this.name = "LoginError";
    this.code = code;
    this.status = status;
  }
}

/** A call of the client's own (`sessions()`, `revokeSession()`, …) that the server refused. */
export class RequestError extends Error {
  /** @param {string} code @param {string} description @param {number} status */
  constructor(code, description, status) {
    super(`${code}: ${description || status}`);
    this.name = "RequestError";
    this.code = code;
    this.status = status;
  }
}
