/**
 * The audit log's own promises, without a gateway around it: a full disk leaves no torn line,
 * and a reader that is slow (a FIFO) cannot stall the event loop.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog, type AuditRecord } from '../../src/gateway/audit-log.js';
import type { DockwardError } from '../../src/util/errors.js';

const rec = (n: number): AuditRecord => ({
  time: new Date().toISOString(),
  identity: 'ci',
  cn: 'ci',
  serial: '01',
  remote: '127.0.0.1:1',
  listener: 'tcp://127.0.0.1:2376',
  method: 'GET',
  route: 'GET /containers/json',
  path: `/containers/json/${'x'.repeat(200)}/${n}`,
  decision: 'allow',
  rule: 'role ci: preset:read-only',
  status: 200,
  bytesIn: 0,
  bytesOut: 0,
  durationMs: 1,
});
const turn = () => new Promise((r) => setImmediate(r));

describe('audit log', { skip: process.getuid?.() !== 0 ? 'needs root (mounts a tiny tmpfs)' : false }, () => {
  let dir: string;
  let small: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dw-audit-'));
    small = join(dir, 'small');
    execFileSync('mkdir', [small]);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=128k', 'tmpfs', small]);
    // Takes half: the test frees it to give the disk room again.
    execFileSync('dd', ['if=/dev/zero', `of=${join(small, 'filler')}`, 'bs=1k', 'count=64'], { stdio: 'ignore' });
  });
  after(async () => {
    execFileSync('umount', [small]);
    await rm(dir, { recursive: true, force: true });
  });

  it('cuts off the part of a line that did not fit, and serves again only once a write succeeds', async () => {
    const messages: string[] = [];
    const file = join(small, 'audit.log');
    const log = new AuditLog(file, (m) => messages.push(m));
    for (let i = 0; i < 10; i++) log.write(rec(i));
    await turn();
    assert.equal(log.failure, undefined);
    // More than the 64 KiB left: the write stops part-way with ENOSPC.
    for (let i = 10; i < 1000; i++) log.write(rec(i));
    await turn();
    assert.match(log.failure ?? '', /ENOSPC/);
    const text = await readFile(file, 'utf8');
    assert.ok(text.endsWith('\n'), 'a torn line was left at the end');
    const lines = text.trim().split('\n');
    assert.equal(lines.length, 10);
    for (const l of lines) JSON.parse(l);
    // The disk has room again, and the operator sends SIGHUP: still refused until a line is written.
    await rm(join(small, 'filler'), { force: true });
    log.reopen();
    assert.match(log.failure ?? '', /ENOSPC/);
    log.write(rec(1000));
    await turn();
    assert.equal(log.failure, undefined, messages.join('\n'));
    assert.match(await readFile(file, 'utf8'), /\/1000"/);
    await log.close();
  });

  it('ends a line left unfinished (a crash) before writing its own', async () => {
    const file = join(dir, 'torn.log');
    await writeFile(file, '{"time":"x","identity":"a"');
    const log = new AuditLog(file, () => undefined);
    log.write(rec(1));
    await turn();
    await log.close();
    const lines = (await readFile(file, 'utf8')).split('\n');
    assert.equal(lines[0], '{"time":"x","identity":"a"');
    assert.equal(JSON.parse(lines[1]!).path, rec(1).path);
  });

  it('writes to a FIFO as a stream: a slow reader does not stall the event loop', async () => {
    const fifo = join(dir, 'audit.fifo');
    execFileSync('mkfifo', [fifo]);
    // Nobody reads it: opening must fail at once with what to do, not hang the gateway.
    assert.throws(
      () => new AuditLog(fifo, () => undefined),
      (e: DockwardError) => /ENXIO/.test(e.message) && e.hint === 'start the process that reads the FIFO first',
    );
    // Holds the FIFO open for reading without reading, so writes would block.
    const holder = spawn('sh', ['-c', `exec 3<"${fifo}"; exec sleep 30`], { stdio: 'ignore' });
    try {
      await new Promise((r) => setTimeout(r, 200));
      const log = new AuditLog(fifo, () => undefined);
      const started = performance.now();
      // ~1.5 MB: far more than a pipe holds (64 KiB), so a synchronous write would block here.
      for (let round = 0; round < 10; round++) {
        for (let i = 0; i < 500; i++) log.write(rec(i));
        await turn();
      }
      assert.ok(performance.now() - started < 2000, 'the event loop was blocked by the FIFO');
      assert.equal(log.failure, undefined);
      // Closing gives the reader a moment, then lets go: shutdown does not hang on it.
      const closing = performance.now();
      await log.close();
      assert.ok(performance.now() - closing < 5000);
    } finally {
      holder.kill('SIGKILL');
    }
  });
});
