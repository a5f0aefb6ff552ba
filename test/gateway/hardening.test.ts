/**
 * Failure modes an operator must not learn about from an incident: an audit log that cannot be
 * written (the gateway must stop serving, not serve unaudited), a CRL that has expired (OpenSSL
 * then refuses every client; the gateway must say why), and refusals Node's HTTP server makes by
 * itself, before any handler of ours runs (they must reach the audit log too).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadIssuer, pkiLayout } from '../../src/pki/index.js';
import { buildCrlPem } from '../../src/pki/crl.js';
import { loadPolicyFile } from '../../src/policy/index.js';
import { startGateway } from '../../src/gateway/server.js';
import { engineSkipReason, runDocker, TEST_IMAGE } from '../harness/engine.js';
import { clientTls, rawExchange, startGatewayFixture, until, type GatewayFixture } from './fixture.js';

const skip = engineSkipReason();

describe('gateway failure modes', { skip, timeout: 300_000 }, () => {
  let f: GatewayFixture;
  before(async () => {
    f = await startGatewayFixture();
  });
  after(async () => f?.stop());

  it('refuses every request once the audit log cannot be written, instead of serving unaudited', async () => {
    const logs: string[] = [];
    const sock = join(f.dir, 'no-audit.sock');
    const gw = await startGateway({
      upstreamSocket: f.engine.socketPath,
      listeners: [{ kind: 'unix', path: sock, identity: 'sidecar', mode: 0o600 }],
      policy: await loadPolicyFile(join(f.dir, 'policy.yaml')),
      // Opens fine, every write fails with ENOSPC: a full disk.
      auditLog: '/dev/full',
      log: (line) => logs.push(line),
    });
    try {
      await runDocker(['-H', `unix://${sock}`, 'version']);
      await until('the audit failure to be reported', () => logs.some((l) => l.includes('audit log') && l.includes('ENOSPC')), 10_000);
      const r = await runDocker(['-H', `unix://${sock}`, 'run', '-d', '--name', 'unaudited', '--network', 'none', TEST_IMAGE, 'true']);
      assert.notEqual(r.code, 0, r.stdout);
      assert.match(r.stderr, /dockward: the audit log cannot be written/);
      const direct = await runDocker(['-H', `unix://${f.engine.socketPath}`, 'ps', '-aq', '--filter', 'name=unaudited']);
      assert.equal(direct.code, 0, direct.stderr);
      assert.equal(direct.stdout.trim(), '', 'an unaudited request reached dockerd');
    } finally {
      await gw.close(100);
    }
  });

  it('says that its CRL has expired instead of hanging up on every client without a reason', async () => {
    const l = pkiLayout(f.pki);
    const good = await readFile(l.crl);
    const issuer = await loadIssuer(l, { dir: f.pki, onWarning: () => undefined });
    const stale = await buildCrlPem(issuer, { certs: [] } as unknown as Parameters<typeof buildCrlPem>[1], 99, new Date(Date.now() - 40 * 86_400_000));
    try {
      await writeFile(`${l.crl}.tmp`, stale);
      await rename(`${l.crl}.tmp`, l.crl);
      await until('the expired CRL to be reported', () => f.logs.some((x) => x.includes('CRL') && x.includes('expired')), 10_000);
      assert.ok(f.logs.some((x) => x.includes('every client certificate is refused') && x.includes('dockward pki crl')), f.logs.join('\n'));
      const since = Date.now();
      assert.notEqual((await f.docker('admin', ['version'])).code, 0);
      const refused = (await f.audit()).filter((x) => Date.parse(x.time) >= since - 1000 && x.decision === 'refused');
      assert.ok(refused.length && refused.every((x) => x.error?.includes('CRL') && x.error.includes('expired')), JSON.stringify(refused));
    } finally {
      await writeFile(`${l.crl}.tmp`, good);
      await rename(`${l.crl}.tmp`, l.crl);
      await f.gateway.reload();
    }
    assert.equal((await f.docker('admin', ['version'])).code, 0);
  });

  it("audits the refusals Node's HTTP server makes by itself (no Host, an unknown Expect)", async () => {
    const admin = await clientTls(f, 'admin');
    const before = (await f.audit()).length;
    const missingHost = await rawExchange(admin, 'GET /v1.41/containers/json HTTP/1.1\r\n\r\n', 300);
    assert.match(missingHost, /^HTTP\/1.1 400 /);
    const expect = await rawExchange(admin, 'GET /v1.41/containers/json HTTP/1.1\r\nHost: x\r\nExpect: something-else\r\n\r\n', 300);
    assert.match(expect, /^HTTP\/1.1 417 /);
    await until('two audit lines', async () => (await f.audit()).length >= before + 2, 3000);
    const recs = (await f.audit()).slice(before);
    assert.deepEqual(
      recs.map((r) => [r.identity, r.status, r.decision]),
      [
        ['admin', 400, 'bad'],
        ['admin', 417, 'bad'],
      ],
    );
  });
});
