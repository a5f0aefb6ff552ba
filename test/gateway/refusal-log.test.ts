import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog, type AuditRecord } from '../../src/gateway/audit-log.js';
import { addressRecord } from '../../src/gateway/context.js';
import { FULL_LINES, MAX_KINDS_PER_SOURCE, MAX_REFUSAL_KEYS, RefusalLog } from '../../src/gateway/refusal-log.js';

function refused(remote: string, error: string, cn: string | null = null): AuditRecord {
  return addressRecord(remote, 'tcp://127.0.0.1:2376', performance.now(), { decision: 'refused', error, cn, serial: cn && `5e${cn.length}` });
}

/** Feeds `records` through a RefusalLog, one interval per inner array; returns the lines written. */
async function through(intervals: AuditRecord[][]): Promise<AuditRecord[]> {
  const dir = await mkdtemp(join(tmpdir(), 'dw-refusals-'));
  try {
    const audit = new AuditLog(join(dir, 'audit.log'), () => undefined);
    const log = new RefusalLog(audit, 60_000);
    for (const records of intervals) {
      for (const r of records) log.write(r);
      log.summarize();
    }
    log.close();
    await audit.close();
    return (await readFile(join(dir, 'audit.log'), 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as AuditRecord);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const total = (lines: AuditRecord[]) => lines.reduce((n, x) => n + (x.repeated ?? 1), 0);

test('a few refusals are written as they are', async () => {
  const lines = await through([[refused('10.0.0.1:5000', 'no client certificate'), refused('10.0.0.1:5001', 'no client certificate')]]);
  assert.deepEqual(
    lines.map((x) => [x.remote, x.error, x.repeated]),
    [
      ['10.0.0.1:5000', 'no client certificate', undefined],
      ['10.0.0.1:5001', 'no client certificate', undefined],
    ],
  );
});

test('repeats of a kind from a source are counted into one line per interval, and none is lost', async () => {
  const flood = Array.from({ length: 1000 }, (_, i) => refused(`10.0.0.1:${i + 1024}`, 'no client certificate'));
  const lines = await through([flood, flood.slice(0, 20)]);
  assert.equal(total(lines), 1020);
  const summaries = lines.filter((x) => x.repeated);
  assert.deepEqual(
    summaries.map((x) => [x.remote, x.error]),
    [
      ['10.0.0.1', `${1000 - FULL_LINES} more refusals of the same kind from 10.0.0.1 in the last 60 s: no client certificate`],
      ['10.0.0.1', `${20 - FULL_LINES} more refusals of the same kind from 10.0.0.1 in the last 60 s: no client certificate`],
    ],
  );
  assert.equal(lines.length, 2 * (FULL_LINES + 1));
});

test('kinds a client varies (its own CNs) are bounded per source, and sources in all', async () => {
  const minted = Array.from({ length: 500 }, (_, i) => refused(`10.0.0.2:${i + 1024}`, 'not issued by a CA this gateway trusts', `cn-${i}`));
  const spread = Array.from({ length: 500 }, (_, i) => refused(`10.1.${i >> 8}.${i & 255}:4000`, 'no client certificate'));
  const lines = await through([[...minted, ...spread]]);
  assert.equal(total(lines), 1000);
  assert.ok(lines.length <= (MAX_REFUSAL_KEYS + 1) * (FULL_LINES + 1), `${lines.length} lines`);
  // One source: its first kinds in full, then the rest counted together.
  const fromOne = lines.filter((x) => x.remote.startsWith('10.0.0.2'));
  assert.equal(fromOne.filter((x) => !x.repeated).length, MAX_KINDS_PER_SOURCE + FULL_LINES);
  assert.ok(fromOne.some((x) => x.error === `${500 - MAX_KINDS_PER_SOURCE - FULL_LINES} more refusals of any kind from 10.0.0.2 in the last 60 s`), JSON.stringify(fromOne.filter((x) => x.repeated)));
  assert.ok(lines.some((x) => x.remote === 'other sources' && /more refusals of any kind from other sources/.test(x.error ?? '')));
});

test('IPv6 clients of one /64 are one source', async () => {
  const lines = await through([Array.from({ length: 20 }, (_, i) => refused(`2001:db8::${i + 1}:443`, 'no client certificate'))]);
  assert.equal(lines.filter((x) => x.repeated).length, 1);
  assert.equal(lines.find((x) => x.repeated)!.remote, '2001:db8:0:0::/64');
});
