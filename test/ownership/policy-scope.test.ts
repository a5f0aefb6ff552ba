/** `scope: own` in the policy file: who becomes a tenant, and which combinations are refused. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { authorize, parsePolicy, type Identity } from '../../src/policy/index.js';
import { summaryLines } from '../../src/policy/explain.js';

const id = (cn: string): Identity => ({ name: cn, cn, ou: [], sans: [], listener: 'tls' });

const policy = (roles: string, identity = 'alice') => `version: 1
identities:
  - name: ${identity}
    match: { cn: alice }
    roles: [${roles}]
  - name: watcher
    match: { cn: watcher }
    roles: [reader]
roles:
  tenant:
    allow: [preset:containers]
    scope: own
  reader:
    allow: [preset:read-only]
  admin:
    allow: [preset:all]
    unrestricted: true
`;

describe('scope: own in the policy', () => {
  it('makes its identity a tenant whose verdicts carry the owner; the default scope is all', () => {
    const p = parsePolicy(policy('tenant'), 'p.yaml');
    const v = authorize(p, id('alice'), 'GET', '/v1.41/containers/web/json');
    assert.equal(v.kind === 'allow' && v.owner, 'alice');
    const w = authorize(p, id('watcher'), 'GET', '/v1.41/containers/web/json');
    assert.equal(w.kind === 'allow' && w.owner, undefined);
    assert.deepEqual(
      summaryLines(p).map((l) => l.includes('scope own')),
      [true, false],
    );
  });

  it('one scope: own role makes the identity a tenant whatever its other roles say', () => {
    const v = authorize(parsePolicy(policy('reader, tenant'), 'p.yaml'), id('alice'), 'GET', '/v1.41/containers/json');
    assert.equal(v.kind === 'allow' && v.owner, 'alice');
  });

  it('refuses a tenant whose bodies would not be read, or whose name cannot prefix names', () => {
    assert.throws(() => parsePolicy(policy('tenant, admin'), 'p.yaml'), /scope: own role and the unrestricted role "admin"/);
    assert.throws(() => parsePolicy(policy('tenant').replace('    scope: own\n', '    scope: own\n    unrestricted: true\n'), 'p.yaml'), /unrestricted, so its bodies are not read/);
    assert.throws(() => parsePolicy(policy('tenant', 'team.a'), 'p.yaml'), /letters, digits, "_" and "-" only/);
    assert.throws(() => parsePolicy(policy('tenant').replace('scope: own', 'scope: mine'), 'p.yaml'), /scope/);
  });
});
