/**
 * `dockward gateway install-unit`: the unit it writes passes `systemd-analyze verify` (which also
 * checks that ExecStart's binary exists) without a single warning, reloads with SIGHUP, restarts
 * on failure, is confined, and is never overwritten without --force.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { dockward } from '../harness/cli.js';
import { runProcess } from '../harness/process.js';
import { gatewayUnit } from '../../src/adopt/systemd-unit.js';

const analyze = (() => {
  try {
    return execFileSync('sh', ['-c', 'command -v systemd-analyze']).toString().trim();
  } catch {
    return undefined;
  }
})();
const skip = analyze ? undefined : process.env.CI ? undefined : 'systemd-analyze is missing (apt-get install systemd; scripts/engines.sh installs it)';

test('install-unit writes a unit systemd-analyze verifies cleanly', { skip }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dw-unit-'));
  try {
    const unit = join(dir, 'dockward-gateway.service');
    const r = await dockward(['gateway', 'install-unit', '--output', unit, '--config', '/etc/dockward/gateway.yaml']);
    assert.equal(r.code, 0, r.stderr);
    const text = await readFile(unit, 'utf8');
    for (const line of ['Restart=on-failure', 'ExecReload=/bin/kill -HUP $MAINPID', 'NoNewPrivileges=yes', 'ProtectSystem=strict', 'CapabilityBoundingSet=CAP_CHOWN', 'RuntimeDirectory=dockward']) {
      assert.ok(text.includes(`\n${line}\n`), line);
    }
    assert.match(text, /\nExecStart=\/\S+\/node --initial-old-space-size=64 \/\S+\/dist\/cli\/main\.js gateway --config \/etc\/dockward\/gateway\.yaml\n/);
    const verify = await runProcess(analyze!, ['verify', unit], { env: { PATH: process.env.PATH ?? '' } });
    assert.equal(verify.code, 0, verify.stderr);
    assert.equal(verify.stderr.trim(), '', 'systemd-analyze warned');
    // What verify catches, so the assertion above can fail: a misspelt directive.
    const bad = join(dir, 'bad.service');
    await runProcess('sh', ['-c', `sed 's/NoNewPrivileges/NoNewPrivilege/' ${unit} > ${bad}`], { env: { PATH: process.env.PATH ?? '' } });
    assert.match((await runProcess(analyze!, ['verify', bad], { env: { PATH: process.env.PATH ?? '' } })).stderr, /Unknown key/);

    const again = await dockward(['gateway', 'install-unit', '--output', unit]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already exists \(pass --force to overwrite\)/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('paths systemd would split or expand are refused, not written', () => {
  assert.throws(() => gatewayUnit({ node: '/usr/bin/node', script: '/opt/my dockward/main.js', config: '/etc/x.yaml' }), /cannot be written into a unit as is/);
  assert.throws(() => gatewayUnit({ node: '/usr/bin/node', script: '/opt/main.js', config: '/etc/%h.yaml' }), /cannot be written into a unit as is/);
});
