/**
 * Tabs of one browser sharing one session: the BroadcastChannel messages that hand a new
 * access token (or a logout) to the other tabs, and the Web Lock that lets one tab at a time
 * run `/auth/refresh`.
 * @module tessera/tabs
 */

import { TransientError } from "./errors.js";

/** @typedef {import("./state.js").Session} Session */

/** The message handing a new access token to the other tabs. @param {Readonly<Session>} session */
export function tokenMessage(session) {
  const { token, localExp, lifetime, sessionId, scheme, jkt } = session;
  return { type: "token", token, localExp, lifetime, sessionId, scheme, jkt };
}

/** @param {string} reason */
export function logoutMessage(reason) {
  return { type: "logout", reason };
}

/**
 * A message from another tab: a session to install, a logout, or null for anything else.
 * @param {any} message
 * @returns {{type: "token", session: Session} | {type: "logout", reason: string} | null}
 */
export function readMessage(message) {
  if (message?.type === "token" && typeof message.token === "string") {
    const { token, localExp, lifetime } = message;
    const scheme = message.scheme === "DPoP" ? "DPoP" : "Bearer";
    const jkt = typeof message.jkt === "string" ? message.jkt : null;
    return { type: "token", session: { token, localExp, lifetime, sessionId: message.sessionId ?? null, scheme, jkt } };
  }
  if (message?.type === "logout") return { type: "logout", reason: message.reason ?? "logout" };
  return null;
}

/**
 * Run `work` holding the cross-tab lock `name` (waiting at most `timeoutMs` for it), or
 * directly without Web Locks.
 * @param {{request: Function} | null} locks @param {string} name
 * @param {{setTimeout: Function, clearTimeout: Function}} timers @param {number} timeoutMs
 * @param {() => Promise<void>} work
 */
export async function exclusive(locks, name, timers, timeoutMs, work) {
  if (!locks) return work();
  const controller = new AbortController();
  const giveUp = timers.setTimeout(() => controller.abort(), timeoutMs);
  try {
    return await locks.request(name, { signal: controller.signal }, async () => {
      timers.clearTimeout(giveUp);
      await work();
    });
  } catch (error) {
    if (controller.signal.aborted) throw new TransientError("another tab's refresh did not finish");
    throw error;
  } finally {
    timers.clearTimeout(giveUp);
  }
}
