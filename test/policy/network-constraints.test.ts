/**
 * Network create constraints, a table of named cases on canonical bodies (Go's field names).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileContainerRules, compileRoleRules, type NetworkRulesDoc } from '../../src/policy/constraints/rules.js';
import { checkNetworkCreate } from '../../src/policy/constraints/network.js';

const rules = (networks?: NetworkRulesDoc) => compileRoleRules(compileContainerRules({}, []), {}, {}, networks);
// What `docker network create` sends (CLI 28).
const cli = (extra: Record<string, unknown> = {}) => ({ Name: 'n', Driver: 'bridge', IPAM: { Driver: 'default', Options: {}, Config: [] }, Options: {}, Labels: {}, ...extra });

const REFUSED: [string, Record<string, unknown>, NetworkRulesDoc | undefined, string][] = [
  ['a macvlan on a host interface', cli({ Driver: 'macvlan', Options: { parent: 'eth0' } }), undefined, 'Driver'],
  ['the host driver', cli({ Driver: 'host' }), undefined, 'Driver'],
  ['an overlay where only bridges are allowed', cli({ Driver: 'overlay' }), undefined, 'Driver'],
  ['the host bridge by name', cli({ Options: { 'com.docker.network.bridge.name': 'docker0' } }), undefined, 'Options.com.docker.network.bridge.name'],
  ['an option outside the allowed ones', cli({ Options: { 'com.docker.network.bridge.enable_icc': 'true' } }), { options: ['com.docker.network.driver.mtu'] }, 'Options.com.docker.network.bridge.enable_icc'],
  ['a subnet of its choice', cli({ IPAM: { Driver: 'default', Config: [{ Subnet: '192.168.1.0/24' }] } }), undefined, 'IPAM.Config'],
  ['an IPAM driver', cli({ IPAM: { Driver: 'dhcp' } }), undefined, 'IPAM.Driver'],
  ['IPAM options', cli({ IPAM: { Options: { x: '1' } } }), undefined, 'IPAM.Options'],
  ["swarm's ingress network", cli({ Ingress: true }), { drivers: ['bridge', 'overlay'], addresses: true }, 'Ingress'],
  ['configuration from a config-only network', cli({ ConfigFrom: { Network: 'admins-macvlan' } }), undefined, 'ConfigFrom'],
];
for (const [name, body, doc, field] of REFUSED) {
  test(`network create refuses ${name}`, () => {
    const r = checkNetworkCreate(structuredClone(body), rules(doc));
    assert.ok('code' in r, JSON.stringify(r));
    assert.equal(r.code, 'DW_BODY_NETWORK');
    assert.equal(r.field, field);
  });
}

test('network create allows what docker network create sends by default, and what the role grants', () => {
  for (const [body, doc] of [
    [cli(), undefined],
    [{ Name: 'n' }, undefined],
    [cli({ Driver: '', Internal: true, Attachable: true, EnableIPv6: true, Labels: { 'com.docker.compose.network': 'default' } }), undefined],
    [cli({ Options: { 'com.docker.network.driver.mtu': '1400' } }), { options: ['com.docker.network.driver.*'] }],
    [cli({ IPAM: { Driver: 'default', Config: [{ Subnet: '10.99.0.0/24', Gateway: '10.99.0.1' }] } }), { addresses: true }],
  ] as [Record<string, unknown>, NetworkRulesDoc | undefined][]) {
    const r = checkNetworkCreate(body, rules(doc));
    assert.ok('body' in r, JSON.stringify(r));
    assert.deepEqual(r.mutations, []);
  }
});

test('an overlay network is always created encrypted', () => {
  const r = checkNetworkCreate(cli({ Driver: 'overlay' }), rules({ drivers: ['overlay'] }));
  assert.ok('body' in r);
  assert.deepEqual(r.body.Options, { encrypted: '' });
  assert.deepEqual(r.mutations, ['Options.encrypted: overlay traffic encrypted']);
  const asked = checkNetworkCreate(cli({ Driver: 'overlay', Options: { encrypted: 'true' } }), rules({ drivers: ['overlay'] }));
  assert.ok('body' in asked);
  assert.deepEqual(asked.mutations, [], 'already encrypted: nothing to change');
});
