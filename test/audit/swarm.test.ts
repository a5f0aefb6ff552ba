import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { engineSkipReason, startTestEngine, type TestEngine } from '../harness/engine.js';
import { dockward } from '../harness/cli.js';
import type { Report } from '../../src/report/finding.js';

/** Swarm and overlay checks on a real single-node swarm (a private dockerd advertising on loopback). */
const skip = engineSkipReason();

describe('dockward audit of a swarm manager', { skip }, () => {
  let engine: TestEngine;
  const audit = async () => {
    const res = await dockward(['audit', '--host', `unix://${engine.socketPath}`, '--format', 'json'], { timeoutMs: 120_000 });
    assert.equal(res.code, 0, res.stderr);
    return (JSON.parse(res.stdout) as Report).findings.filter((f) => /^DW-(SWARM|NET)-/.test(f.check)).map((f) => `${f.check} ${f.subject}`).sort();
  };

  before(async () => {
    engine = await startTestEngine({ image: false });
    const init = await engine.docker(['swarm', 'init', '--advertise-addr', '127.0.0.1', '--listen-addr', '127.0.0.1:0']);
    assert.equal(init.code, 0, init.stderr);
    for (const args of [['network', 'create', '-d', 'overlay', 'plain'], ['network', 'create', '-d', 'overlay', '--opt', 'encrypted', 'sealed']]) {
      const r = await engine.docker(args);
      assert.equal(r.code, 0, r.stderr);
    }
  });
  after(async () => {
    await engine?.docker(['swarm', 'leave', '--force']).catch(() => undefined);
    await engine?.stop();
  });

  test('unencrypted overlays and autolock off are reported; encrypted overlays are not', async () => {
    assert.deepEqual(await audit(), ['DW-NET-OVERLAY-001 network ingress', 'DW-NET-OVERLAY-001 network plain', 'DW-SWARM-AUTOLOCK-001 swarm']);
  });

  test('autolock on and a node certificate lifetime of a year: the certificate finding replaces the autolock one', async () => {
    const r = await engine.docker(['swarm', 'update', '--autolock=true', '--cert-expiry', '8760h']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await audit(), ['DW-NET-OVERLAY-001 network ingress', 'DW-NET-OVERLAY-001 network plain', 'DW-SWARM-CERT-001 swarm']);
  });
});
