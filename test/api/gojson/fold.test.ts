import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { foldKey } from '../../../src/api/gojson/fold.js';

describe('gojson fold', () => {
  it("only ſ and the Kelvin sign fold onto ASCII letters (Unicode simple case folding, as Go's EqualFold)", () => {
    // A /iu regular expression matches by Unicode simple case folding, the same relation as
    // Go's unicode.SimpleFold orbits: list every non-ASCII code point equal to an ASCII letter.
    const found: string[] = [];
    for (const letter of 'abcdefghijklmnopqrstuvwxyz') {
      const re = new RegExp(`^${letter}$`, 'iu');
      for (let cp = 0x80; cp <= 0x10ffff; cp++) {
        if (cp >= 0xd800 && cp <= 0xdfff) continue;
        if (re.test(String.fromCodePoint(cp))) found.push(`${letter}:U+${cp.toString(16).toUpperCase()}`);
      }
    }
    assert.deepEqual(found, ['k:U+212A', 's:U+17F']);
  });
  it('folds keys as EqualFold compares them with ASCII names', () => {
    assert.equal(foldKey('privileged'), 'PRIVILEGED');
    assert.equal(foldKey('ſyſctlſ'), 'SYSCTLS');
    assert.equal(foldKey('\u212aernelMemory'), 'KERNELMEMORY');
    assert.equal(foldKey('Cpu_Shares'), 'CPU_SHARES');
    assert.equal(foldKey('Prıvileged'), undefined);
    assert.equal(foldKey('Privİleged'), undefined);
  });
});
