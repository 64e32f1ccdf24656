// Uses every public name of the `tessera-auth` package; must type-check under `strict`.
import axios, { type AxiosInstance, type AxiosResponse } from "axios";
import * as tessera from "tessera-auth";
import {
  type Auth,
  type AuthEventName,
  type AuthEvents,
  type AuthOptions,
  type AxiosLike,
  type Channel,
  type DeviceSession,
  type KeyStore,
  type Locks,
  type LoginErrorCode,
  type LogoutReason,
  type ProofKey,
  type Scheme,
  type Timers,
  type TraceEvent,
  createAuth,
  LoginError,
  RequestError,
  TransientError,
} from "tessera-auth";

// The package's exports, the client's members and the event names, exactly (a name missing or
// extra here fails to type-check; the test compares these lists with what the code has).
export const exported: Record<keyof typeof tessera, true> = {
  createAuth: true,
  LoginError: true,
  RequestError: true,
  TransientError: true,
};
export const members: Record<keyof Auth, true> = {
  login: true,
  restore: true,
  fetch: true,
  axios: true,
  sessions: true,
  revokeSession: true,
  revokeOtherSessions: true,
  logout: true,
  on: true,
  expiresAt: true,
  accessToken: true,
  sessionId: true,
  close: true,
};
export const events: Record<AuthEventName, true> = {
  refreshed: true,
  logout: true,
  error: true,
  login: true,
  trace: true,
};

const memory = new Map<string, ProofKey>();
const keys: KeyStore = {
  load: async (slot) => memory.get(slot),
  save: async (slot, key) => {
    memory.set(slot, key);
  },
  remove: async (slot) => {
    memory.delete(slot);
  },
};
const locks: Locks = navigator.locks;
const channel: Channel = new BroadcastChannel("tessera:/auth");
const timers: Timers = globalThis;

const options: AuthOptions = {
  baseUrl: "/auth",
  apiOrigins: ["https://api.example.com"],
  credentials: "include",
  lockTimeoutMs: 10_000,
  refreshTimeoutMs: 10_000,
  proactive: true,
  dpop: true,
  keys,
  fetch: (input, init) => fetch(input, init),
  now: () => Date.now(),
  locks,
  channel,
  timers,
  storage: localStorage,
  pageUrl: "https://app.example.com/",
};
createAuth({ keys: null, locks: null, channel: null, storage: null, timers: { setTimeout, clearTimeout } });
createAuth({ fetch });
createAuth();

const auth: Auth = createAuth(options);

function describe(event: TraceEvent): string {
  switch (event.type) {
    case "skew":
      return `clock skew ${event.skewMs} ms`;
    case "broadcast-received":
      return `token from another tab, expires ${event.localExp}`;
    case "broadcast-logout":
    case "refresh-start":
      return event.type;
    case "refresh-done":
      return `refresh ${event.status}`;
    case "request":
    case "retry":
      return `${event.type} ${event.url} ${event.status}`;
  }
}

const unsubscribes: Array<() => void> = [
  auth.on("refreshed", ({ expiresAt, fromOtherTab }: AuthEvents["refreshed"]) => {
    const at: number = expiresAt;
    const other: boolean = fromOtherTab;
    console.log(at, other);
  }),
  auth.on("logout", ({ reason }) => {
    const why: LogoutReason = reason;
    console.log(why === "session_ended" ? "signed out elsewhere" : "signed out");
  }),
  auth.on("error", ({ error, retryInMs }) => {
    const status: number = error.status;
    const wait: number = error.retryAfterMs;
    console.warn(error.message, status, wait, retryInMs);
  }),
  auth.on("login", ({ sessionId, scheme }) => {
    const how: Scheme = scheme;
    const id: string | null = sessionId;
    console.log(how, id);
  }),
  auth.on("trace", (event) => console.debug(describe(event))),
];

export async function main(): Promise<void> {
  const restored: boolean = await auth.restore();
  if (!restored) {
    try {
      await auth.login("alice", "correct horse battery staple");
    } catch (error) {
      if (error instanceof LoginError) {
        const code: LoginErrorCode = error.code;
        const status: number = error.status;
        console.log(code === "invalid_credentials" ? "wrong password" : code, status, error.name);
      } else if (error instanceof TransientError) {
        const name: "TransientError" = error.name;
        console.log(name, error.status, error.retryAfterMs);
      }
    }
  }
  const response: Response = await auth.fetch("/api/me", { method: "GET", headers: { Accept: "application/json" } });
  await auth.fetch(new URL("https://api.example.com/v1/reports"));
  await auth.fetch(new Request("/api/me"));

  // axios: the instance comes back with its own type.
  const api: AxiosInstance = auth.axios(axios.create({ baseURL: "https://api.example.com" }));
  const like: AxiosLike = axios.create();
  auth.axios(like);
  auth.axios(axios); // the default instance too
  const me: AxiosResponse<{ sub: string }> = await api.get<{ sub: string }>("/v1/me");
  console.log(me.data.sub);

  // Your devices.
  const sessions: DeviceSession[] = await auth.sessions();
  for (const session of sessions) {
    const name: string = session.device ?? "unknown device";
    const at: number = session.lastUsedAt;
    const facts: [string | null, string | null, number, number, number, boolean] = [
      session.ip, session.userAgent, session.createdAt, session.expiresAt, session.refreshExpiresAt, session.current,
    ];
    if (!session.current) {
      const revoked: boolean = await auth.revokeSession(session.id);
      console.log(name, at, facts, revoked);
    }
  }
  try {
    const none: void = await auth.revokeOtherSessions();
    console.log(none);
  } catch (error) {
    if (error instanceof RequestError) {
      const refused: [string, number, "RequestError"] = [error.code, error.status, error.name];
      console.log(refused);
    }
  }
  const expiresAt: number | null = auth.expiresAt;
  const token: string | null = auth.accessToken;
  const sessionId: string | null = auth.sessionId;
  console.log(response.status, expiresAt, token, sessionId);
  await auth.logout();
  for (const unsubscribe of unsubscribes) unsubscribe();
  auth.close();
  const made: [TransientError, LoginError, RequestError] = [
    new TransientError("refresh failed with 503", 503, 1_000),
    new LoginError("rate_limited", "too many attempts", 429),
    new RequestError("not_found", "no such session", 404),
  ];
  console.log(made, new TransientError("network"));
}
