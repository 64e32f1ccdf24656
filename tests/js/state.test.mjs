// Unit tests of tessera.js's state (tessera/state.js): one frozen snapshot, replaced whole.
import assert from "node:assert/strict";
import { test } from "node:test";

import * as State from "../../src/tessera/web/static/tessera/state.js";

const SESSION = { token: "t1", localExp: 1_000_600_000, lifetime: 600_000, sessionId: "s1" };

/** Every transition, applied to a state with a session. */
function transitions(state) {
  return {
    installed: State.installed(state, { ...SESSION, token: "t2" }),
    loggedIn: State.loggedIn(state, { ...SESSION, token: "t3" }),
    ended: State.ended(state),
    resumed: State.resumed(state),
    rejected: State.rejected(state),
    backedOff: State.backedOff(state, 123),
  };
}

test("every transition returns a new frozen snapshot and leaves the old one as it was", () => {
  assert.ok(Object.isFrozen(State.INITIAL));
  const state = State.installed(State.INITIAL, SESSION);
  const before = structuredClone(state);
  for (const [name, next] of Object.entries(transitions(state))) {
    assert.notEqual(next, state, name);
    assert.ok(Object.isFrozen(next), name);
    assert.ok(next.session === null || Object.isFrozen(next.session), name);
    assert.deepEqual(state, before, name); // the old snapshot is untouched
  }
  assert.throws(() => {
    state.session.localExp = 0; // modules are strict: writing a frozen object throws
  }, TypeError);
});

test("a new token: new generation, session live again, back-off forgotten", () => {
  const failing = State.backedOff(State.ended(State.installed(State.INITIAL, SESSION)), 5_000);
  const next = State.installed(failing, { ...SESSION, token: "t2" });
  assert.deepEqual(next, {
    session: { ...SESSION, token: "t2" },
    generation: failing.generation + 1,
    epoch: failing.epoch, // a refresh or a hand-over keeps the epoch: only login and logout bump it
    ended: false,
    failures: 0,
    notBefore: 0,
  });
  const login = State.loggedIn(failing, SESSION);
  assert.equal(login.epoch, failing.epoch + 1);
  assert.equal(login.generation, failing.generation + 1);
});

test("the end of a session drops the token in the same step that bumps generation and epoch", () => {
  const state = State.installed(State.INITIAL, SESSION);
  const over = State.ended(state);
  assert.equal(over.session, null);
  assert.equal(over.ended, true);
  assert.equal(over.generation, state.generation + 1);
  assert.equal(over.epoch, state.epoch + 1);
  assert.equal(State.resumed(over).ended, false);
});

test("a rejected token is due for a refresh, in the same generation", () => {
  const state = State.installed(State.INITIAL, SESSION);
  const now = SESSION.localExp - SESSION.lifetime; // just received
  assert.ok(State.fresh(state, now) && State.usable(state, now));
  const next = State.rejected(state);
  assert.equal(next.generation, state.generation);
  assert.equal(next.session.token, "t1");
  assert.ok(!State.fresh(next, now) && !State.usable(next, now));
  assert.equal(State.rejected(State.INITIAL).session, null);
});

test("back-off steps up, and Retry-After wins when longer", () => {
  let state = State.INITIAL;
  const waits = [];
  for (let i = 0; i < 8; i += 1) {
    waits.push(State.backoffMs(state, 0));
    state = State.backedOff(state, 0);
  }
  assert.deepEqual(waits, [1_000, 2_000, 5_000, 10_000, 30_000, 60_000, 60_000, 60_000]);
  assert.equal(State.backoffMs(State.INITIAL, 3_000), 3_000);
  assert.equal(state.failures, 8);
});

test("a token response's expiry is anchored at receipt; the lead is min(60 s, a third)", () => {
  const b64 = (v) => Buffer.from(JSON.stringify(v)).toString("base64url");
  const jwt = `${b64({ alg: "RS256" })}.${b64({ iat: 1000, exp: 1090 })}.sig`;
  const { session, skewMs } = State.sessionOf({ access_token: jwt, expires_in: 50, session_id: "s" }, 5_000_000);
  const bearer = { scheme: "Bearer", jkt: null };
  assert.deepEqual(session, { token: jwt, localExp: 5_090_000, lifetime: 90_000, sessionId: "s", ...bearer });
  assert.equal(skewMs, 1_000_000 - 5_000_000);
  assert.equal(State.leadMs(session), 30_000);
  assert.equal(State.leadMs({ ...session, lifetime: 3_600_000 }), 60_000);
  const opaque = State.sessionOf({ access_token: "opaque", expires_in: 50 }, 0);
  const expected = { token: "opaque", localExp: 50_000, lifetime: 50_000, sessionId: null, ...bearer };
  assert.deepEqual(opaque, { session: expected, skewMs: null });
});

test("a DPoP token response: sent as DPoP, by the key its cnf.jkt names", () => {
  const b64 = (v) => Buffer.from(JSON.stringify(v)).toString("base64url");
  const jwt = `${b64({ alg: "ES256" })}.${b64({ iat: 1000, exp: 1090, cnf: { jkt: "k1" } })}.sig`;
  const { session } = State.sessionOf({ access_token: jwt, token_type: "DPoP" }, 0);
  assert.equal(session.scheme, "DPoP");
  assert.equal(session.jkt, "k1");
  const opaque = State.sessionOf({ access_token: "opaque", token_type: "DPoP", expires_in: 5 }, 0).session;
  assert.deepEqual([opaque.scheme, opaque.jkt], ["DPoP", null]); // bound, its key unknown: the stored one
});
