/**
 * The audit log's own promises, without a gateway around it: a full disk leaves no torn line,
 * and a reader that is slow (a FIFO) cannot stall the event loop.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog, type AuditRecord } from '../../src/gateway/audit-log.js';

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
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', small]);
  });
  after(async () => {
    execFileSync('umount', [small]);
    await rm(dir, { recursive: true, force: true });
  });

  it('cuts off the part of a line that did not fit, so a full disk leaves only whole lines', async () => {
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
    assert.equal(messages.length, 1, messages.join('\n'));
    const text = await readFile(file, 'utf8');
    assert.ok(text.endsWith('\n'), 'a torn line was left at the end');
    const lines = text.trim().split('\n');
    assert.equal(lines.length, 10);
    for (const l of lines) JSON.parse(l);
    await log.close();
  });

  it('writes to a FIFO as a stream: a slow reader does not stall the event loop', async () => {
    const fifo = join(dir, 'audit.fifo');
    execFileSync('mkfifo', [fifo]);
    // Holds the FIFO open for reading without reading, so opening it does not block and writes would.
    const holder = spawn('sh', ['-c', `exec 3<"${fifo}"; sleep 30`], { stdio: 'ignore' });
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
    } finally {
      holder.kill('SIGKILL');
    }
  });
});
