import { stat } from 'node:fs/promises';
import { UsageError } from '../util/errors.js';
import { allChecks, HOST_ONLY } from './catalog.js';
import { Findings, type CheckContext, type CheckFn } from './context.js';
import { collectEngineFacts } from './engine-facts.js';
import { collectHostFacts } from './host-facts.js';
import type { AuditTarget } from './target.js';
import { applyBaseline, type Baseline } from './baseline.js';
import { daemonChecks } from './checks/daemon.js';
import { fileChecks } from './checks/files.js';
import { containerChecks } from './checks/containers.js';
import { swarmChecks } from './checks/swarm.js';
import { sortFindings, summarize, type Finding, type Report, type Skipped, type TargetResult } from '../report/finding.js';

export interface AuditOptions {
  targets: AuditTarget[];
  /** The target system's filesystem root for host checks (`/`, or an image or test root). */
  root: string;
  baseline?: Baseline;
  now?: Date;
  /** Containers inspected so far on a target, for a progress bar. */
  onProgress?: (target: string, done: number, total: number) => void;
  version: string;
}

const CHECKS: CheckFn[] = [daemonChecks, fileChecks, containerChecks, swarmChecks];

async function auditOne(t: AuditTarget, o: AuditOptions, now: Date): Promise<{ result: TargetResult; findings: Finding[]; skipped: Skipped[] }> {
  const result: TargetResult = { target: t.label, transport: t.transport };
  const skipped: Skipped[] = [];
  let engine;
  try {
    engine = await collectEngineFacts(t, (done, total) => o.onProgress?.(t.label, done, total));
  } catch (e) {
    result.error = `cannot audit ${t.label}: ${(e as Error).message}`;
    return { result, findings: [], skipped: [{ target: t.label, checks: allChecks().map((c) => c.id), reason: result.error }] };
  }
  result.engine = { version: engine.version.Version ?? '?', apiVersion: engine.version.ApiVersion ?? '?', os: engine.version.Os ?? '?', name: engine.info.Name ?? '?' };
  result.containers = engine.containers.length;
  const ctx: CheckContext = { target: t, engine, now };
  if ('socketPath' in t.endpoint) ctx.host = await collectHostFacts(o.root, t.endpoint.socketPath);
  else skipped.push({ target: t.label, checks: HOST_ONLY, reason: "remote daemon: its host's files, flags, sockets and TLS material cannot be read from here (run dockward audit on that host for them)" });
  const out = new Findings(t.label);
  for (const check of CHECKS) await check(ctx, out);
  return { result, findings: out.list, skipped };
}

/** Audits every target at once (a fleet) into one report. */
export async function runAudit(o: AuditOptions): Promise<Report> {
  // A mistyped --root would read as a host with no configuration at all: findings that are not true.
  if (!(await stat(o.root).catch(() => undefined))?.isDirectory()) {
    throw new UsageError(`--root ${o.root} is not a directory`, "give the directory the Docker host's filesystem is mounted or unpacked at");
  }
  const now = o.now ?? new Date();
  const all = await Promise.all(o.targets.map((t) => auditOne(t, o, now)));
  let findings = all.flatMap((a) => a.findings);
  if (o.baseline) findings = applyBaseline(findings, o.baseline);
  findings = sortFindings(findings);
  return {
    schemaVersion: 1,
    tool: { name: 'dockward', version: o.version },
    generatedAt: now.toISOString(),
    targets: all.map((a) => a.result),
    checks: allChecks(),
    findings,
    skipped: all.flatMap((a) => a.skipped),
    summary: summarize(findings),
  };
}
