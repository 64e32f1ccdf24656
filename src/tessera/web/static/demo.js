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
}

async function loadMe() {
  const response = await auth.fetch("/api/me");
  if (response.ok) {
    const me = await response.json();
    $("fact-sub").textContent = me.sub;
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
});
auth.on("login", () => log("info", "signed in"));
auth.on("error", (e) => log("error", `${e.error.message}; retrying in ${Math.round(e.retryInMs / 1000)} s`));
auth.on("logout", (e) => {
  log("logout", e.reason === "logout" ? "signed out" : "session ended: sign in again");
  showSession(false);
});

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("login-button").disabled = true;
  $("login-error").textContent = "";
  try {
    await auth.login($("username").value, $("password").value);
    $("password").value = "";
    showSession(true);
    await loadMe();
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
    await loadMe();
  } else {
    log("info", "no session: sign in");
  }
});
