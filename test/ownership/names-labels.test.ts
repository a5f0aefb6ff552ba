/** Tables for the pure parts of ownership: scoped names, owner filters, stamped labels. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { daemonName, invalidName, tenantName } from '../../src/ownership/names.js';
import { ownerFilters, OwnershipRefusal, parseFilters, stampLabels } from '../../src/ownership/label.js';

describe('scoped names', () => {
  const cases: [string, string, string][] = [
    // [owner, daemon name, what the owner is shown]
    ['alice', 'alice.web', 'web'],
    ['alice', '/alice.web', '/web'],
    ['alice', 'alice.bob.web', 'bob.web'],
    ['alice', 'bob.web', 'bob.web'],
    ['alice', 'alicex.web', 'alicex.web'],
    ['alice', 'eager_turing', 'eager_turing'],
  ];
  for (const [owner, daemon, shown] of cases) it(`${owner} sees ${daemon} as ${shown}`, () => assert.equal(tenantName(owner, daemon), shown));
  it('round-trips and checks names as dockerd does', () => {
    assert.equal(tenantName('bob', daemonName('bob', 'app-web-1')), 'app-web-1');
    assert.equal(invalidName('container', 'web'), undefined);
    assert.match(invalidName('container', 'w')!, /Invalid container name \(w\)/);
    assert.match(invalidName('volume', '-x')!, /invalid characters for a local volume name/);
  });
});

describe('owner label and filters', () => {
  it('reads both filter forms and adds the owner label', () => {
    assert.deepEqual(ownerFilters(parseFilters('{"label":["a=b"],"status":{"exited":true}}'), 'alice'), {
      label: { 'a=b': true, 'io.dockward.owner=alice': true },
      status: { exited: true },
    });
    assert.deepEqual(ownerFilters(parseFilters(null), 'bob'), { label: { 'io.dockward.owner=bob': true } });
  });
  const refused: [string, string][] = [
    ['a filter on the owner', '{"label":["io.dockward.owner=bob"]}'],
    ['a negated filter on the owner', '{"label!":{"io.dockward.owner":true}}'],
    ['a filter on another reserved label', '{"label":{"io.dockward.x":true}}'],
  ];
  for (const [what, filters] of refused) {
    it(`refuses ${what}`, () => assert.throws(() => ownerFilters(parseFilters(filters), 'alice'), (e: unknown) => e instanceof OwnershipRefusal && e.code === 'DW_OWNER_LABEL'));
  }
  it('refuses filters that are not JSON objects', () => {
    for (const bad of ['{', '[]', '{"label":"x"}']) assert.throws(() => parseFilters(bad), OwnershipRefusal);
  });
  it('stamps the owner and refuses reserved labels in a body', () => {
    const body: Record<string, unknown> = { Labels: { team: 'x' } };
    stampLabels(body, 'alice');
    assert.deepEqual(body.Labels, { team: 'x', 'io.dockward.owner': 'alice' });
    assert.throws(() => stampLabels({ Labels: { 'io.dockward.owner': 'bob' } }, 'alice'), /set by the gateway only/);
  });
});
