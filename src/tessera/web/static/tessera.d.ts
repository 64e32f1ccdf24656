/**
 * tessera.js — the browser client for a Tessera auth server (TypeScript declarations).
 *
 * The access token lives in memory only; the refresh token only in the HttpOnly cookie the
 * server sets. `auth.fetch` is a drop-in `fetch` that sends the access token, refreshes it
 * shortly before it expires, and on a 401 `invalid_token` refreshes once and retries once.
 * See docs/browser.md.
 *
 * These declarations cover the package's whole public API: `createAuth`, the client it
 * returns, its options, each event's detail, the sessions it lists, and the three error
 * classes. The modules under `tessera/` are internal. axios is not a dependency: `auth.axios`
 * takes anything shaped like an axios (≥ 1) instance, typed structurally (`AxiosLike`).
 *
 * @module tessera-auth
 */

/** How an access token is sent: a DPoP token only with a proof by the key it is bound to. */
export type Scheme = "Bearer" | "DPoP";

/**
 * A DPoP key (RFC 9449): a non-extractable P-256 private key, its public JWK and its RFC 7638
 * thumbprint.
 */
export interface ProofKey {
  privateKey: CryptoKey;
  jwk: { kty: string; crv: string; x: string; y: string };
  jkt: string;
}

/** Where the DPoP key is kept, one record per auth server (`slot` is its `baseUrl`). */
export interface KeyStore {
  load(slot: string): Promise<ProofKey | undefined>;
  save(slot: string, key: ProofKey): Promise<void>;
  remove(slot: string): Promise<void>;
}

/** The cross-tab lock (`navigator.locks`, or a stand-in in tests). */
export interface Locks {
  request(name: string, options: { signal: AbortSignal }, callback: () => Promise<void>): Promise<unknown>;
}

/** The cross-tab channel (a `BroadcastChannel`, or a stand-in in tests). */
export interface Channel {
  postMessage(message: unknown): void;
  close(): void;
  onmessage: ((event: MessageEvent) => void) | null;
}

/** The timer functions (`globalThis`, or fake timers in tests). */
export interface Timers {
  setTimeout(handler: () => void, ms: number): unknown;
  clearTimeout(handle: any): void;
}

/** `createAuth`'s options; every one has a default. */
export interface AuthOptions {
  /** The auth prefix; default `"/auth"`. */
  baseUrl?: string;
  /**
   * Other origins that get the access token, each a bare origin matched exactly, e.g.
   * `["https://api.example.com"]` (the page's own origin always does). A malformed entry, or
   * plain http on an https page, makes `createAuth` throw a `TypeError`.
   */
  apiOrigins?: readonly string[];
  /** `"same-origin"` (default), or `"include"` when the auth server is on another origin. */
  credentials?: "same-origin" | "include";
  /** How long to wait for another tab's refresh, in ms (default 10 000). */
  lockTimeoutMs?: number;
  /** Abort a refresh after this long, in ms (default 10 000). */
  refreshTimeoutMs?: number;
  /** Run the refresh timer in the visible tab (default true). */
  proactive?: boolean;
  /**
   * Bind the session to a key with DPoP where WebCrypto and IndexedDB exist (default true);
   * false sends Bearer tokens.
   */
  dpop?: boolean;
  /** For tests: where the DPoP key is kept; default IndexedDB, null for none. */
  keys?: KeyStore | null;
  /** For tests: the `fetch` to send requests with; default the global one. */
  fetch?: (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>;
  /** For tests: the clock, ms since the epoch. */
  now?: () => number;
  /** For tests: the cross-tab lock; default `navigator.locks`, null for none. */
  locks?: Locks | null;
  /** For tests: the cross-tab channel; default a `BroadcastChannel`, null for none. */
  channel?: Channel | null;
  /** For tests: the timers; default the global ones. */
  timers?: Timers;
  /** For tests: where the refresh marker (a time, never a token) is kept; default `localStorage`. */
  storage?: Pick<Storage, "getItem" | "setItem"> | null;
  /** For tests: the page's URL; default the page's own, relative URLs resolved against its base. */
  pageUrl?: string;
}

/** Why a session ended: this tab's or another tab's `logout()`, or `/auth/refresh` answered 401. */
export type LogoutReason = "logout" | "session_ended";

/** Diagnostics, emitted as `"trace"`. */
export type TraceEvent =
  | { type: "skew"; skewMs: number }
  | { type: "broadcast-received"; localExp: number }
  | { type: "broadcast-logout" }
  | { type: "refresh-start" }
  | { type: "refresh-done"; status: number }
  | { type: "request"; url: string; status: number }
  | { type: "retry"; url: string; status: number };

/** Each event's name and the detail its listeners receive. */
export interface AuthEvents {
  /** A new access token, from this tab's refresh or handed over by another tab. */
  refreshed: { expiresAt: number; fromOtherTab: boolean };
  /** The session is over, in this tab and (when told) every other. */
  logout: { reason: LogoutReason };
  /** A refresh failed for a reason that may go away; the next attempt is in `retryInMs`. */
  error: { error: TransientError; retryInMs: number };
  /** This tab logged in. */
  login: { sessionId: string | null; scheme: Scheme };
  /** Diagnostics. */
  trace: TraceEvent;
}

export type AuthEventName = keyof AuthEvents;

/**
 * The part of an axios instance (`axios.create()`, axios ≥ 1) that `auth.axios` uses: its
 * interceptors and `request`. Structural, so that this package needs no axios of its own.
 */
export interface AxiosLike {
  interceptors: {
    request: { use(onFulfilled: (config: any) => any): number };
    response: { use(onFulfilled: (response: any) => any, onRejected: (error: any) => any): number };
  };
  request(config: any): Promise<any>;
}

/** One of the user's sessions ("your devices"), as `auth.sessions()` lists it. */
export interface DeviceSession {
  readonly id: string;
  /** The server's short name for the login's user agent, e.g. "Firefox on Linux"; null when it cannot tell. */
  readonly device: string | null;
  /** The address the session was last used from, as the server saw it. */
  readonly ip: string | null;
  readonly userAgent: string | null;
  /** When it signed in, ms since the epoch. */
  readonly createdAt: number;
  /** When it last refreshed (was last active), ms since the epoch. */
  readonly lastUsedAt: number;
  /** When it ends at the latest (absolute lifetime), ms since the epoch. */
  readonly expiresAt: number;
  /** When its refresh token ends if unused (idle timeout), ms since the epoch. */
  readonly refreshExpiresAt: number;
  /** Whether it is this browser's session. */
  readonly current: boolean;
}

/** The client `createAuth` returns. */
export interface Auth {
  /**
   * Log in; the refresh token arrives as an HttpOnly cookie. With DPoP, a new key is made and
   * the session bound to it. Rejects with `LoginError` when refused, `TransientError` when
   * another tab's refresh holds the cross-tab lock past `lockTimeoutMs`.
   */
  login(username: string, password: string): Promise<void>;
  /** After a page load: resolves to whether the cookie still holds a session. */
  restore(): Promise<boolean>;
  /**
   * `fetch` with the access token, refreshed ahead of expiry and once on a 401
   * `invalid_token`. A request to an origin other than the page's or a listed one goes out
   * untouched.
   */
  fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>;
  /**
   * Make an axios instance behave as `fetch` does: interceptors add the token (and a DPoP
   * proof of each request) to trusted origins, refresh ahead of expiry and once on a 401
   * `invalid_token`, and send the request once more. Judged on the URL the request is finally
   * sent to, after every interceptor; an absolute `url` by itself, whatever
   * `allowAbsoluteUrls` says. Returns the same instance; a second call changes nothing.
   * Throws a `TypeError` for something that is not an axios instance.
   */
  axios<T extends AxiosLike>(instance: T): T;
  /**
   * The user's active sessions, newest first; this browser's has `current: true`. Rejects
   * with `RequestError` when the server refuses (status 401 once the session is over).
   */
  sessions(): Promise<DeviceSession[]>;
  /**
   * Sign one session out: its refresh token stops working and its access tokens are refused
   * at once. False when the user has no session by that id. This browser's own is `logout()`.
   */
  revokeSession(id: string): Promise<boolean>;
  /** Sign out every other session of the user; this one goes on. */
  revokeOtherSessions(): Promise<void>;
  /** End the session on the server and in every tab. */
  logout(): Promise<void>;
  /** Listen to an event; returns a function that unsubscribes. */
  on<E extends AuthEventName>(event: E, listener: (detail: AuthEvents[E]) => void): () => void;
  /** The current access token's local expiry (ms since the epoch), or null. */
  readonly expiresAt: number | null;
  /** The current access token (for display and debugging; send requests with `fetch`), or null. */
  readonly accessToken: string | null;
  /** The current session's id, or null. */
  readonly sessionId: string | null;
  /** Stop timers and listeners and close the channel (for apps that tear the client down). */
  close(): void;
}

/** Create a client for one Tessera auth server. */
export function createAuth(options?: AuthOptions): Auth;

/** A refresh that failed for a reason that may go away (network, 5xx, 429, lock timeout). */
export class TransientError extends Error {
  constructor(message: string, status?: number, retryAfterMs?: number);
  readonly name: "TransientError";
  /** The HTTP status of the failed refresh; 0 when there was none (network, lock timeout, back-off). */
  readonly status: number;
  /** How long the server asked to wait (`Retry-After`), or the back-off left, in ms; 0 when neither. */
  readonly retryAfterMs: number;
}

/** The error codes `/auth/login` answers with (the contract's), and `"error"` for an unreadable answer. */
export type LoginErrorCode =
  | "invalid_credentials"
  | "invalid_request"
  | "invalid_dpop_proof"
  | "use_dpop_nonce"
  | "rate_limited"
  | "unavailable"
  | "request_too_large"
  | "error"
  | (string & {});

/** The server refused a login. */
export class LoginError extends Error {
  constructor(code: string, description: string, status: number);
  readonly name: "LoginError";
  /** The contract's error code, e.g. `"invalid_credentials"` or `"rate_limited"`. */
  readonly code: LoginErrorCode;
  /** The HTTP status of the refusal. */
  readonly status: number;
}

/** The server refused one of the client's own calls (`sessions()`, `revokeSession()`, …). */
export class RequestError extends Error {
  constructor(code: string, description: string, status: number);
  readonly name: "RequestError";
  /** The contract's error code, e.g. `"invalid_token"` or `"rate_limited"`; `"error"` for an unreadable answer. */
  readonly code: string;
  /** The HTTP status of the refusal. */
  readonly status: number;
}
