// The demo app: sign in, call the API, and watch tessera.js keep the session alive.
const prefix = document.querySelector('meta[name="tessera-prefix"]').content;
const { createAuth } = await import(`${prefix}/tessera.js`);

const auth = createAuth({ baseUrl: prefix });
const $ = (id) => document.getElementById(id);
let refreshes = 0;

/** Add a line to the timeline. @param {string} kind @param {string} text */
function log(kind, text) {
  $("timeline-empty")?.remove();
  const item = document.createElement("li");
  const time = document.createElement("time");
  time.textContent = new Date().toLocaleTimeString([], { hour12: false });
  const tag = document.createElement("span");
  tag.className = `tag ${kind}`;
  tag.textContent = kind === "tab" ? "other tab" : kind;
  const message = document.createElement("span");
  message.textContent = text;
  item.append(time, tag, message);
  item.dataset.kind = kind;
  $("timeline").prepend(item);
}

function showSession(signedIn) {
  $("login-card").classList.toggle("hidden", signedIn);
  $("session-card").classList.toggle("hidden", !signedIn);
  $("devices-card").classList.toggle("hidden", !signedIn);
  if (!signedIn) $("devices").replaceChildren();
}

async function loadMe() {
  const response = await auth.fetch("/api/me");
  if (response.ok) {
    const me = await response.json();
    $("fact-sub").textContent = me.name ?? me.sub; // the user's name where the server gives one
    $("fact-role").textContent = me.role;
    $("fact-sid").textContent = me.sid;
    $("session-error").textContent = "";
  } else {
    $("session-error").textContent = `API answered ${response.status}`;
  }
  return response.status;
}

function tick() {
  const at = auth.expiresAt;
  const el = $("countdown");
  if (at === null) {
    el.textContent = "--:--";
    return;
  }
  const left = Math.max(0, Math.round((at - Date.now()) / 1000));
  el.textContent = `${String(Math.floor(left / 60)).padStart(2, "0")}:${String(left % 60).padStart(2, "0")}`;
  el.classList.toggle("soon", left > 0 && left <= 20);
  el.classList.toggle("expired", left === 0);
}

auth.on("trace", (t) => {
  if (new URL(t.url ?? "/", location.href).pathname.startsWith(`${prefix}/sessions`)) return; // the devices card's
  if (t.type === "request") log("request", `GET ${new URL(t.url, location.href).pathname} → ${t.status}`);
  if (t.type === "retry") log("request", `retry ${new URL(t.url, location.href).pathname} → ${t.status}`);
  if (t.type === "refresh-start") log("refresh", "POST /auth/refresh …");
  if (t.type === "refresh-done") {
    const kind = t.status === 200 ? "refresh" : t.status === 401 ? "info" : "error";
    log(kind, `/auth/refresh → ${t.status}${t.status === 401 ? " (no live session)" : ""}`);
  }
  if (t.type === "broadcast-received") log("tab", "new access token handed over by another tab");
  if (t.type === "broadcast-logout") log("tab", "signed out in another tab");
});
auth.on("refreshed", () => {
  refreshes += 1;
  $("fact-refreshes").textContent = String(refreshes);
  showSession(true);
  loadDevices(); // "last active" has moved
});
auth.on("login", () => log("info", "signed in"));
auth.on("error", (e) => log("error", `${e.error.message}; retrying in ${Math.round(e.retryInMs / 1000)} s`));
auth.on("logout", (e) => {
  log("logout", e.reason === "logout" ? "signed out" : "session ended: sign in again");
  showSession(false);
});

// Your devices ------------------------------------------------------------------------------

const DEVICES_EVERY_MS = 20_000; // the list is polled while signed in: other devices come and go

/** "just now", "3 min ago", "2 h ago", or the date. @param {number} at ms since the epoch */
function ago(at) {
  const seconds = Math.max(0, Math.round((Date.now() - at) / 1000));
  if (seconds < 60) return "just now";
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return new Date(at).toLocaleDateString();
}

/** One row of the list. @param {any} session */
function deviceRow(session) {
  const item = document.createElement("li");
  item.dataset.session = session.id;
  const name = document.createElement("div");
  name.className = "device";
  name.textContent = session.device ?? "Unknown device";
  if (session.current) {
    const badge = document.createElement("span");
    badge.className = "badge";
    badge.textContent = "this device";
    name.append(badge);
    item.classList.add("current");
  }
  const meta = document.createElement("div");
  meta.className = "meta";
  const signedIn = new Date(session.createdAt).toLocaleString([], { hour12: false });
  meta.textContent = `${session.ip ?? "unknown address"} · signed in ${signedIn} · last active ${ago(session.lastUsedAt)}`;
  meta.title = session.userAgent ?? "";
  const button = document.createElement("button");
  button.className = "secondary";
  button.textContent = "Sign out";
  button.addEventListener("click", () => revoke(session));
  item.append(name, meta, button);
  return item;
}

let devicesLoading = null;

/** Load the list again (one load at a time; a session that ended shows the login card instead). */
function loadDevices() {
  if (auth.expiresAt === null) return Promise.resolve();
  devicesLoading ??= auth
    .sessions()
    .then((sessions) => {
      $("devices").replaceChildren(...sessions.map(deviceRow));
      $("revoke-others-button").disabled = sessions.every((s) => s.current);
      $("devices-error").textContent = "";
    })
    .catch((error) => {
      if (error.status !== 401) $("devices-error").textContent = `Could not list your devices: ${error.message}`;
    })
    .finally(() => {
      devicesLoading = null;
    });
  return devicesLoading;
}

/** @param {any} session */
async function revoke(session) {
  try {
    if (await auth.revokeSession(session.id)) log("info", `signed out ${session.device ?? "a device"}`);
  } catch (error) {
    $("devices-error").textContent = `Could not sign that device out: ${error.message}`;
  }
  await loadDevices();
}

$("revoke-others-button").addEventListener("click", async () => {
  try {
    await auth.revokeOtherSessions();
    log("info", "signed out all other devices");
  } catch (error) {
    $("devices-error").textContent = `Could not sign the other devices out: ${error.message}`;
  }
  await loadDevices();
});
setInterval(() => {
  if (document.visibilityState === "visible") loadDevices();
}, DEVICES_EVERY_MS);
addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") loadDevices();
});

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("login-button").disabled = true;
  $("login-error").textContent = "";
  try {
    await auth.login($("username").value, $("password").value);
    $("password").value = "";
    showSession(true);
    await Promise.all([loadMe(), loadDevices()]);
  } catch (error) {
    $("login-error").textContent =
      error.code === "invalid_credentials" ? "Wrong username or password." : error.message;
  } finally {
    $("login-button").disabled = false;
  }
});
$("call-button").addEventListener("click", () => loadMe());
$("logout-button").addEventListener("click", () => auth.logout());

// "Open in decoder" hands the token over by postMessage: a URL (its fragment included) would
// stay in the browser's history database, and storage would outlive the tab. The decoder says
// "ready" to its opener; only a window opened here, on this origin, gets the token.
/** @type {WeakSet<Window>} */
const decoders = new WeakSet();
$("decode-link").addEventListener("click", () => {
  const decoder = window.open("/decoder", "_blank");
  if (decoder) decoders.add(decoder);
});
addEventListener("message", (event) => {
  const decoder = /** @type {Window | null} */ (event.source);
  if (event.origin !== location.origin || !decoder || !decoders.has(decoder)) return;
  if (event.data?.type !== "tessera-decoder-ready") return;
  decoders.delete(decoder);
  const token = auth.accessToken;
  if (token) decoder.postMessage({ type: "tessera-token", token }, location.origin);
});

setInterval(tick, 250);
log("info", "page loaded: restoring the session from the refresh cookie");
auth.restore().then(async (signedIn) => {
  $("login-fields").disabled = false; // the form works from here on (see demo.html)
  showSession(signedIn);
  if (signedIn) {
    log("info", "session restored");
    await Promise.all([loadMe(), loadDevices()]);
  } else {
    log("info", "no session: sign in");
  }
});
