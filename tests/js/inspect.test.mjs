// The decoder page's examination (inspect.js) against the one table of cases that Python's
// (`tessera decode`) also runs: tests/inspection_cases.json, written by
// scripts/inspection_cases.py. `node --test tests/js`.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { examine } from "../../src/tessera/web/static/inspect.js";
import { thumbprint } from "../../src/tessera/web/static/inspect-dpop.js";
import { span } from "../../src/tessera/web/static/inspect-text.js";

const table = JSON.parse(readFileSync(new URL("../inspection_cases.json", import.meta.url), "utf8"));

/** A proof's facts as `tessera decode --json` names them, its thumbprint computed. */
async function proofFacts(proof) {
  const jkt = proof.canonical === null ? null : await thumbprint(proof.canonical);
  return { ...proof.claims, key: proof.key, jkt, private_key: proof.privateKey, within_window: proof.withinWindow };
}

for (const expected of table.cases) {
  test(expected.name, async () => {
    const report = examine(expected.token, { now: table.now, leeway: expected.leeway ?? 0 });
    assert.equal(report.status, expected.status);
    assert.deepEqual(report.warnings, expected.warnings);
    if (expected.error === null) assert.equal(report.error, null);
    else assert.ok(report.error?.startsWith(expected.error), report.error);
    if (expected.times !== undefined) {
      const shown = Object.fromEntries(
        Object.entries(report.times).map(([name, claim]) => [name, { utc: claim.utc, relative: claim.relative }]),
      );
      assert.deepEqual(shown, expected.times);
    }
    if (expected.lifetime !== undefined) assert.equal(report.lifetime, expected.lifetime);
    assert.equal(report.kind, expected.kind ?? "token");
    assert.equal(report.boundTo, expected.bound_to ?? null);
    if (expected.proof !== undefined) {
      const shown = await proofFacts(report.proof);
      assert.deepEqual(Object.fromEntries(Object.keys(expected.proof).map((name) => [name, shown[name]])), expected.proof);
    }
  });
}

test("spans keep the two largest units, as tessera decode's", () => {
  assert.equal(span(252), "4 m 12 s");
  assert.equal(span(3 * 3600 + 5), "3 h");
  assert.equal(span(90061), "1 d 1 h");
  assert.equal(span(-59.6), "1 m");
  assert.equal(span(0.2), "0 s");
});
