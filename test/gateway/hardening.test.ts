/**
 * Failure modes an operator must not learn about from an incident: an audit log that cannot be
 * written (the gateway must stop serving, not serve unaudited), a CRL that has expired (OpenSSL
 * then refuses every client; the gateway must say why), and refusals Node's HTTP server makes by
 * itself, before any handler of ours runs (they must reach the audit log too).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadPolicyFile } from '../../src/policy/index.js';
import { startGateway } from '../../src/gateway/server.js';
import { engineSkipReason, runDocker, TEST_IMAGE } from '../harness/engine.js';
import { startGatewayFixture, until, type GatewayFixture } from './fixture.js';

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
});
