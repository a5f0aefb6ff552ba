import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_TARGET_LENGTH, parseTarget } from '../../src/api/target.js';
import { apiVersionNumber } from '../../src/api/versions.js';
import { fuzzTargets } from './fuzz-targets.js';

const V1_41 = apiVersionNumber('1.41');
/** dockerd 20.10 behind a gateway that knows its version. */
const MAX = { accepted: V1_41, daemon: V1_41 };

function refused(raw: string, max = MAX): string {
  const r = parseTarget(raw, max);
  assert.equal(r.ok, false, `expected ${JSON.stringify(raw)} to be refused, got ${JSON.stringify(r)}`);
  return r.ok ? '' : r.message;
}

function accepted(raw: string, max = MAX) {
  const r = parseTarget(raw, max);
  assert.ok(r.ok, `expected ${JSON.stringify(raw)} to be accepted, got ${JSON.stringify(r)}`);
  return r.target;
}

describe('parseTarget refuses what dockerd would read differently', () => {
  const tricks: [string, RegExp][] = [
    ['/v1.41/containers%2Fjson', /encoded "\/"/],
    ['/v1.41/containers%2fjson', /encoded "\/"/],
    ['/v1.41/images/library%5Cbusybox/json', /encoded "\/" or "\\"/],
    ['/v1.41/containers/json/../../info', /"\." or "\.\." segment/],
    ['/v1.41/./info', /"\." or "\.\." segment/],
    ['/v1.41/%2e%2e/info', /"\." or "\.\." segment/],
    ['/v1.41/%2E/info', /"\." or "\.\." segment/],
    ['/v1.41/.%2e/info', /"\." or "\.\." segment/],
    ['/v1.41/info/..', /"\." or "\.\." segment/],
    ['//info', /empty segment/],
    ['/v1.41//containers/json', /empty segment/],
    ['/v1.41/containers//json', /empty segment/],
    ['/V1.41/info', /not in canonical form/],
    ['/v01.041/info', /not in canonical form/],
    ['/v1.041/info', /not in canonical form/],
    ['/v1.41.0/info', /not in canonical form/],
    ['/v1..41/info', /not in canonical form/],
    ['/v1/info', /not in canonical form/],
    ['/v.1.41/info', /not in canonical form/],
    ['/%761.41.0/info', /not in canonical form/],
    ['/v1.23/info', /1\.23 is too old/],
    ['/v1.12/info', /too old/],
    ['/v1.42/info', /^client API version 1\.42 is too new; the daemon supports up to 1\.41$/],
    ['/v2.0/info', /too new/],
    ['http://127.0.0.1/v1.41/info', /must be a path/],
    ['127.0.0.1:2375', /must be a path/],
    ['*', /must be a path/],
    ['', /must be a path/],
    ['/v1.41/info%00', /encoded control/],
    ['/v1.41/info%0a', /encoded control/],
    ['/v1.41/info%7f', /encoded control/],
    ['/v1.41/images/%C3%A9/json', /non-ASCII/],
    ['/v1.41/info\u0000', /control character/],
    ['/v1.41/in fo', /character " "/],
    ['/v1.41/info\\', /character "\\"/],
    ['/v1.41/images/caf\u00e9/json', /must be percent-encoded/],
    ['/v1.41/info;x', /character ";"/],
    ['/v1.41/info#frag', /must be percent-encoded|fragment/],
    ['/v1.41/info?a=1#frag', /fragment/],
    ['/v1.41/info%', /invalid percent-escape/],
    ['/v1.41/info%4', /invalid percent-escape/],
    ['/v1.41/in%zzfo', /invalid percent-escape/],
    ['/v1.41/containers/json?all=%zz', /query has an invalid percent-escape/],
    ['/v1.41/containers/json?all=1%', /query has an invalid percent-escape/],
    ['/v1.41/containers/json?all=1;size=1', /query has ";"/],
    ['/v1.41/containers/json?filters={"a":1}', /query has the character "\{"/],
    ['/v1.41/containers/json?a=\u0001', /query has a control character/],
    [`/v1.41/containers/${'a'.repeat(MAX_TARGET_LENGTH)}/json`, /longer than 8192/],
  ];
  for (const [raw, why] of tricks) {
    it(`refuses ${JSON.stringify(raw.length > 60 ? `${raw.slice(0, 60)}...` : raw)}`, () => {
      assert.match(refused(raw), why);
    });
  }
});

describe('parseTarget accepts and canonicalizes legitimate targets', () => {
  const legit: [raw: string, version: string | undefined, path: string, query: string, forward: string][] = [
    ['/_ping', undefined, '/_ping', '', '/_ping'],
    ['/v1.41/info', '1.41', '/info', '', '/v1.41/info'],
    ['/v1.24/info', '1.24', '/info', '', '/v1.24/info'],
    ['/v1.41/images/library/busybox:latest/json', '1.41', '/images/library/busybox:latest/json', '', '/v1.41/images/library/busybox:latest/json'],
    ['/images/localhost:5000/a/b/json', undefined, '/images/localhost:5000/a/b/json', '', '/images/localhost:5000/a/b/json'],
    ['/v1.41/containers/abc/attach?stream=1&stdin=1', '1.41', '/containers/abc/attach', 'stream=1&stdin=1', '/v1.41/containers/abc/attach?stream=1&stdin=1'],
    ['/v1.41/exec/ID/start', '1.41', '/exec/ID/start', '', '/v1.41/exec/ID/start'],
    ['/v1.41/distribution/docker.io/library/busybox/json', '1.41', '/distribution/docker.io/library/busybox/json', '', '/v1.41/distribution/docker.io/library/busybox/json'],
    ['/v1.41/images/busybox@sha256:abc/json', '1.41', '/images/busybox@sha256:abc/json', '', '/v1.41/images/busybox@sha256:abc/json'],
    // Escapes of ordinary characters decode, and the forwarded form is rebuilt canonically.
    ['/v1.41/in%66o', '1.41', '/info', '', '/v1.41/info'],
    ['/%761.41/info', '1.41', '/info', '', '/v1.41/info'],
    ['/v1.41/images/a%3Fb%25c/json', '1.41', '/images/a?b%c/json', '', '/v1.41/images/a%3Fb%25c/json'],
    ['/v1.41/images/a%3bb/json', '1.41', '/images/a;b/json', '', '/v1.41/images/a%3Bb/json'],
    ['/v1.41/containers/...x/json', '1.41', '/containers/...x/json', '', '/v1.41/containers/...x/json'],
    ['/v1.41/containers/.../json', '1.41', '/containers/.../json', '', '/v1.41/containers/.../json'],
    // The query is kept verbatim once its escapes are valid; an empty one is dropped.
    ['/v1.41/containers/json?filters=%7B%22label%22%3A%5B%22a%3Db%22%5D%7D&all=1', '1.41', '/containers/json', 'filters=%7B%22label%22%3A%5B%22a%3Db%22%5D%7D&all=1', '/v1.41/containers/json?filters=%7B%22label%22%3A%5B%22a%3Db%22%5D%7D&all=1'],
    ['/v1.41/images/create?fromImage=busybox&tag=latest?x', '1.41', '/images/create', 'fromImage=busybox&tag=latest?x', '/v1.41/images/create?fromImage=busybox&tag=latest?x'],
    ['/v1.41/info?', '1.41', '/info', '', '/v1.41/info'],
    // A trailing slash is read literally by dockerd (no redirect), so it is kept.
    ['/v1.41/networks/', '1.41', '/networks/', '', '/v1.41/networks/'],
    ['/v1.41/', '1.41', '/', '', '/v1.41/'],
    ['/v1.41', '1.41', '/', '', '/v1.41'],
  ];
  for (const [raw, version, path, query, forward] of legit) {
    it(`accepts ${JSON.stringify(raw)}`, () => {
      assert.deepEqual(accepted(raw), { version, path, query, forwardTarget: forward });
    });
  }

  it('accepts versions up to the maximum it is given', () => {
    assert.match(refused('/v1.43/info'), /too new/);
    const v = (x: string) => ({ accepted: apiVersionNumber(x), daemon: apiVersionNumber(x) });
    assert.equal(accepted('/v1.43/info', v('1.43')).version, '1.43');
    assert.equal(accepted('/v1.100/info', v('1.100')).version, '1.100');
  });

  it("refuses versions newer than the gateway knows, naming its and the daemon's", () => {
    const newerDaemon = { accepted: apiVersionNumber('1.51'), daemon: apiVersionNumber('1.55') };
    assert.equal(accepted('/v1.51/info', newerDaemon).version, '1.51');
    assert.equal(
      refused('/v1.52/info', newerDaemon),
      'client API version 1.52 is newer than the gateway knows: it accepts up to 1.51 (dockerd speaks 1.55); use API 1.51 (e.g. DOCKER_API_VERSION=1.51)',
    );
  });

  it('accepts a target of exactly the maximum length', () => {
    const raw = `/v1.41/containers/${'a'.repeat(MAX_TARGET_LENGTH - '/v1.41/containers//json'.length)}/json`;
    assert.equal(raw.length, MAX_TARGET_LENGTH);
    assert.equal(accepted(raw).forwardTarget, raw);
  });
});

describe('apiVersionNumber', () => {
  it('orders versions numerically', () => {
    assert.ok(apiVersionNumber('1.9') < apiVersionNumber('1.24'));
    assert.ok(apiVersionNumber('1.41') < apiVersionNumber('1.100'));
    assert.throws(() => apiVersionNumber('1.041'), /invalid API version/);
    assert.throws(() => apiVersionNumber('v1.41'), /invalid API version/);
  });
});

describe('parseTarget on generated targets', () => {
  it('is idempotent: the forwarded target parses to the same request, and is already canonical', () => {
    let accepted = 0;
    for (const raw of fuzzTargets(3000)) {
      const r = parseTarget(raw, MAX);
      if (!r.ok) continue;
      accepted++;
      const again = parseTarget(r.target.forwardTarget, MAX);
      assert.ok(again.ok, `${raw} -> ${r.target.forwardTarget}`);
      assert.deepEqual(again.target, r.target, raw);
      assert.doesNotMatch(r.target.forwardTarget.split('?')[0]!, /\/\/|\/\.\.?(\/|$)|%2F|%5C|%2E/i, raw);
    }
    // The generator is not so hostile that nothing passes.
    assert.ok(accepted > 300, `only ${accepted} accepted`);
  });
});
