import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { engineSkipReason, startTestEngine, freePort, TEST_IMAGE, type TestEngine } from '../harness/engine.js';
import { dockward } from '../harness/cli.js';
import { assertReportSchema, assertSarif } from './validators.js';
import { chromiumSkipReason, renderInChromium } from './html-render.js';
import type { Report, Finding } from '../../src/report/finding.js';

/**
 * The issue's acceptance on an insecure private daemon: a plain TCP listener on loopback, no
 * userns-remap, no log rotation (and an insecure registry, experimental on), a privileged
 * container with the docker socket mounted, one with SYS_ADMIN and the host's pid namespace, and
 * a stopped one running as root with a secret-looking variable. The real dockerd, the real docker CLI, the built dockward.
 */
const skip = engineSkipReason();
const SECRET = 'hunter2-do-not-print';

describe('dockward audit of an insecure daemon', { skip }, () => {
  let engine: TestEngine;
  let port: number;
  let work: string;
  let unix: string;

  before(async () => {
    port = await freePort();
    engine = await startTestEngine({ args: ['-H', `tcp://127.0.0.1:${port}`, '--insecure-registry', 'registry.example:5000', '--experimental'] });
    unix = `unix://${engine.socketPath}`;
    work = await mkdtemp(join(tmpdir(), 'dw-audit-'));
    // A privileged container cannot start on these machines (FIELD-NOTES: CAP_SYS_RESOURCE): its configuration is what is audited.
    const created = await engine.docker(['create', '--network', 'none', '--privileged', '-v', `${engine.socketPath}:/var/run/docker.sock:ro`, '--name', 'priv', TEST_IMAGE, 'sleep', '600']);
    assert.equal(created.code, 0, created.stderr);
    const running = await engine.docker(['run', '-d', '--network', 'none', '--cap-add', 'SYS_ADMIN', '--pid', 'host', '--name', 'capsys', TEST_IMAGE, 'sleep', '600']);
    assert.equal(running.code, 0, running.stderr);
    const stopped = await engine.docker(['run', '--network', 'none', '-e', `DB_PASSWORD=${SECRET}`, '--name', 'stopped', TEST_IMAGE, 'true']);
    assert.equal(stopped.code, 0, stopped.stderr);
    // An image with a USER: its containers do not run as root by default.
    const nonroot = await engine.docker(['commit', '--change', 'USER 1000', 'stopped', 'dockward-test/nonroot:1']);
    assert.equal(nonroot.code, 0, nonroot.stderr);
  });
  after(async () => {
    await engine?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const find = (r: Report, check: string, subject: string): Finding | undefined => r.findings.find((f) => f.check === check && f.subject === subject);

  test('through its socket: each finding with its id and severity, the JSON valid against the published schema, --fail-on high exits 1', async () => {
    const res = await dockward(['audit', '--host', unix, '--format', 'json', '--fail-on', 'high'], { timeoutMs: 120_000 });
    assert.equal(res.code, 1, res.stderr);
    const report = JSON.parse(res.stdout) as Report;
    assertReportSchema(report);
    assert.equal(report.targets[0]?.containers, 3);
    const expect: [string, string, string][] = [
      ['DW-CTR-PRIVILEGED-001', 'container priv', 'critical'],
      ['DW-CTR-SOCKET-001', 'container priv', 'critical'],
      ['DW-CTR-CAP-001', 'container capsys', 'high'],
      ['DW-CTR-HOSTNS-PID-001', 'container capsys', 'high'],
      ['DW-CTR-ROOT-001', 'container stopped', 'medium'],
      ['DW-CTR-ENV-001', 'container stopped', 'medium'],
      // The TCP listener is read from the running dockerd's command line (/proc): loopback only, so high, not critical.
      ['DW-DAEMON-TLS-001', `tcp://127.0.0.1:${port}`, 'high'],
      ['DW-DAEMON-USERNS-001', 'daemon', 'medium'],
      ['DW-DAEMON-LOG-001', 'daemon', 'medium'],
      ['DW-IMG-ROOT-001', `image ${TEST_IMAGE}`, 'low'],
      ['DW-DAEMON-REGISTRY-001', 'daemon', 'medium'],
      ['DW-DAEMON-EXPERIMENTAL-001', 'daemon', 'low'],
    ];
    for (const [check, subject, severity] of expect) {
      const f = find(report, check, subject);
      assert.ok(f, `${check} on ${subject} missing; got ${report.findings.map((x) => `${x.check} ${x.subject}`).join('; ')}`);
      assert.equal(f.severity, severity, check);
    }
    assert.match(find(report, 'DW-DAEMON-TLS-001', `tcp://127.0.0.1:${port}`)!.evidence.join('\n'), /\/proc\/\d+\/cmdline/);
    assert.match(find(report, 'DW-CTR-ROOT-001', 'container stopped')!.evidence[0]!, /\(exited\)/);
    assert.match(find(report, 'DW-CTR-SOCKET-001', 'container priv')!.message, /read-only/);
    // Values of environment variables are never printed, in any format.
    assert.doesNotMatch(res.stdout, new RegExp(SECRET));
    assert.ok(!report.findings.some((f) => f.subject === 'image dockward-test/nonroot:1'));
    // Nothing was skipped: this is the local host.
    assert.deepEqual(report.skipped, []);
  });

  test('through its plain TCP port: the listener is proven on the wire, host-only checks are skipped with the reason', async () => {
    const res = await dockward(['audit', '--host', `tcp://127.0.0.1:${port}`, '--format', 'json'], { timeoutMs: 120_000 });
    assert.equal(res.code, 0, res.stderr);
    const report = JSON.parse(res.stdout) as Report;
    assertReportSchema(report);
    const tls = find(report, 'DW-DAEMON-TLS-001', `tcp://127.0.0.1:${port}`);
    assert.equal(tls?.severity, 'high');
    assert.match(tls!.evidence[0]!, /over plain TCP .* answered/);
    assert.equal(report.skipped.length, 1);
    assert.match(report.skipped[0]!.reason, /^remote daemon/);
    assert.ok(report.skipped[0]!.checks.includes('DW-FILE-SOCKET-001'));
    assert.ok(!report.findings.some((f) => report.skipped[0]!.checks.includes(f.check)), 'no host-only finding for a remote daemon');
    assert.ok(find(report, 'DW-CTR-PRIVILEGED-001', 'container priv'));
  });

  test('SARIF is valid SARIF 2.1.0 with a rule per check and the findings as results', async () => {
    const res = await dockward(['audit', '--host', unix, '--format', 'sarif'], { timeoutMs: 120_000 });
    assert.equal(res.code, 0, res.stderr);
    const log = JSON.parse(res.stdout) as { runs: { tool: { driver: { rules: { id: string }[] } }; results: { ruleId: string; level: string }[] }[] };
    assertSarif(log);
    const run = log.runs[0]!;
    assert.ok(run.tool.driver.rules.some((r) => r.id === 'DW-CTR-PRIVILEGED-001'));
    assert.ok(run.results.some((r) => r.ruleId === 'DW-CTR-PRIVILEGED-001' && r.level === 'error'));
    assert.doesNotMatch(res.stdout, new RegExp(SECRET));
  });

  test('a baseline accepts known findings: --fail-on passes, the findings stay in the report as accepted; --output never overwrites without --force', async () => {
    const baseline = join(work, 'baseline.json');
    const first = await dockward(['audit', '--host', unix, '--format', 'json', '--output', join(work, 'first.json'), '--write-baseline', baseline], { timeoutMs: 120_000 });
    assert.equal(first.code, 0, first.stderr);
    const again = await dockward(['audit', '--host', unix, '--format', 'json', '--output', join(work, 'first.json')], { timeoutMs: 120_000 });
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already exists \(pass --force to overwrite\)/);
    const gated = await dockward(['audit', '--host', unix, '--format', 'json', '--baseline', baseline, '--fail-on', 'info'], { timeoutMs: 120_000 });
    assert.equal(gated.code, 0, gated.stderr);
    const r = JSON.parse(gated.stdout) as Report;
    assert.ok(r.findings.length > 0 && r.findings.every((f) => f.accepted));
    assert.equal(r.summary.critical, 0);
    // A new finding is not in the baseline: the gate closes again.
    const created = await engine.docker(['create', '--network', 'none', '--pid', 'host', '--name', 'newcomer', TEST_IMAGE, 'true']);
    assert.equal(created.code, 0, created.stderr);
    try {
      const after = await dockward(['audit', '--host', unix, '--format', 'json', '--baseline', baseline, '--fail-on', 'high'], { timeoutMs: 120_000 });
      assert.equal(after.code, 1);
      const a = JSON.parse(after.stdout) as Report;
      assert.deepEqual(a.findings.filter((f) => !f.accepted && f.severity === 'high').map((f) => `${f.check} ${f.subject}`), ['DW-CTR-HOSTNS-PID-001 container newcomer']);
    } finally {
      await engine.docker(['rm', 'newcomer']);
    }
    await writeFile(join(work, 'bad.json'), '{"version": 1, "accepted": [{"check": 3}]}');
    const bad = await dockward(['audit', '--host', unix, '--baseline', join(work, 'bad.json')]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^dockward: the baseline .*bad\.json: accepted\[0\] needs "check" and "subject" strings/);
  });

  test('the table: grouped per daemon, a summary line', async () => {
    const res = await dockward(['audit', '--host', unix], { timeoutMs: 120_000 });
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, new RegExp(`^${unix.replace(/[/.]/g, '\\$&')}: dockerd \\S+ \\(API 1\\.\\d+\\)`, 'm'));
    assert.match(res.stdout, /^\d+ findings \(2 critical, \d+ high, \d+ medium, \d+ low, \d+ info\) on 1 daemon, 3 containers$/m);
    // Not a terminal: no colour codes.
    assert.ok(!res.stdout.includes('\u001b['), 'no ANSI escapes');
  });

  test('HTML: a standalone page whose summary is visible in headless Chromium', { skip: chromiumSkipReason() }, async () => {
    const file = join(work, 'report.html');
    const res = await dockward(['audit', '--host', unix, '--format', 'html', '--output', file], { timeoutMs: 120_000 });
    assert.equal(res.code, 0, res.stderr);
    const html = await readFile(file, 'utf8');
    assert.doesNotMatch(html, new RegExp(SECRET));
    const page = await renderInChromium(file);
    assert.ok(page.summaryVisible, 'the summary is visible');
    assert.match(page.summaryText, /findings \(2 critical, \d+ high/);
    const report = JSON.parse((await dockward(['audit', '--host', unix, '--format', 'json'], { timeoutMs: 120_000 })).stdout) as Report;
    assert.equal(page.findings, report.findings.length);
    // A PNG of the whole page.
    assert.equal(page.screenshot.subarray(1, 4).toString(), 'PNG');
    await writeFile(join(work, 'report.png'), page.screenshot);
  });
});
