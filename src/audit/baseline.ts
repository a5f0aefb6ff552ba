import { readFile } from 'node:fs/promises';
import type { Finding } from '../report/finding.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { DockwardError } from '../util/errors.js';

/**
 * Known findings a team has accepted: kept in the report as accepted, not counted and not
 * failing `--fail-on`. A finding is known by its check, target and subject, never by its
 * message or evidence (those may change wording or values while meaning the same thing).
 */
export interface BaselineEntry {
  check: string;
  /** Absent: the finding is accepted on every target. */
  target?: string;
  subject: string;
  reason?: string;
}

export interface Baseline {
  version: 1;
  accepted: BaselineEntry[];
}

export async function readBaseline(path: string): Promise<Baseline> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new DockwardError(`cannot read the baseline ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 'write one with --write-baseline FILE');
  }
  let b: unknown;
  try {
    b = JSON.parse(text);
  } catch (e) {
    throw new DockwardError(`the baseline ${path} is not JSON: ${(e as Error).message}`, 'write one with --write-baseline FILE');
  }
  const ok = (e: unknown): e is BaselineEntry => {
    const x = e as Record<string, unknown>;
    return !!x && typeof x === 'object' && typeof x.check === 'string' && typeof x.subject === 'string' && (x.target === undefined || typeof x.target === 'string');
  };
  const v = b as Partial<Baseline>;
  if (!v || v.version !== 1 || !Array.isArray(v.accepted)) throw new DockwardError(`the baseline ${path} is not a dockward baseline (version 1 with an "accepted" list)`, 'write one with --write-baseline FILE');
  const bad = v.accepted.findIndex((e) => !ok(e));
  if (bad >= 0) throw new DockwardError(`the baseline ${path}: accepted[${bad}] needs "check" and "subject" strings (and "target" as a string if given)`, 'fix that entry or write the file again with --write-baseline');
  return v as Baseline;
}

export function applyBaseline(findings: Finding[], b: Baseline): Finding[] {
  return findings.map((f) => (b.accepted.some((a) => a.check === f.check && a.subject === f.subject && (a.target === undefined || a.target === f.target)) ? { ...f, accepted: true } : f));
}

function baselineOf(findings: Finding[]): Baseline {
  const seen = new Set<string>();
  const accepted: BaselineEntry[] = [];
  for (const f of findings) {
    const key = JSON.stringify([f.check, f.target, f.subject]);
    if (seen.has(key)) continue;
    seen.add(key);
    accepted.push({ check: f.check, target: f.target, subject: f.subject });
  }
  return { version: 1, accepted };
}

export function writeBaseline(path: string, findings: Finding[], force: boolean): Promise<void> {
  return writeFileAtomic(path, `${JSON.stringify(baselineOf(findings), null, 2)}\n`, 0o644, { force });
}
