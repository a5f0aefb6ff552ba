/**
 * What a check reports, shared by every output format. A finding names the check it comes
 * from (a stable id such as `DW-DAEMON-TLS-001`), the target it was seen on, and the thing it is
 * about (a container, a file, a setting); the evidence is what was seen, never a secret value.
 */
export const SEVERITIES = ['critical', 'high', 'medium', 'low', 'info'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** critical = 4 … info = 0, so `rank(a) >= rank(b)` reads "a is at least as bad as b". */
export function rank(s: Severity): number {
  return SEVERITIES.length - 1 - SEVERITIES.indexOf(s);
}

export interface Check {
  id: string;
  title: string;
  category: 'daemon' | 'files' | 'tls' | 'container' | 'swarm' | 'network';
  /** The severity a finding of this check has unless it says otherwise. */
  severity: Severity;
  /** CIS Docker Benchmark 1.6.0 recommendation, where one exists. */
  cis?: string;
  /** What fixes it, naming the dockward command where there is one. */
  remediation: string;
}

export interface Finding {
  check: string;
  severity: Severity;
  /** The audited daemon, as given (`unix:///var/run/docker.sock`, `tcp://host:2376`). */
  target: string;
  /** What it is about: `container web`, a file path, a daemon setting. */
  subject: string;
  message: string;
  evidence: string[];
  /** A file on the audited host the finding is about, for SARIF locations. */
  file?: string;
  /** Listed in the baseline: known and accepted, kept in the report but not counted. */
  accepted?: boolean;
}

export interface Skipped {
  target: string;
  checks: string[];
  reason: string;
}

export interface TargetResult {
  target: string;
  /** How it was reached: `unix`, `tcp` (plain) or `tls`. */
  transport: 'unix' | 'tcp' | 'tls';
  /** The daemon as it describes itself; absent when it could not be reached. */
  engine?: { version: string; apiVersion: string; os: string; name: string };
  containers?: number;
  /** Why the target could not be audited; its findings are then incomplete. */
  error?: string;
}

export interface Report {
  schemaVersion: 1;
  tool: { name: 'dockward'; version: string };
  generatedAt: string;
  targets: TargetResult[];
  checks: Check[];
  findings: Finding[];
  skipped: Skipped[];
  summary: Record<Severity, number> & { accepted: number };
}

/** `1 container`, `3 containers`. */
export function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

/** Counts by severity of the findings not accepted by a baseline. */
export function summarize(findings: Finding[]): Report['summary'] {
  const s = { critical: 0, high: 0, medium: 0, low: 0, info: 0, accepted: 0 };
  for (const f of findings) {
    if (f.accepted) s.accepted++;
    else s[f.severity]++;
  }
  return s;
}

/** Worst first, then by target, check and subject: the same report always reads the same. */
export function sortFindings(findings: Finding[]): Finding[] {
  return [...findings].sort(
    (a, b) => rank(b.severity) - rank(a.severity) || a.target.localeCompare(b.target) || a.check.localeCompare(b.check) || a.subject.localeCompare(b.subject),
  );
}

/** True when a finding not accepted by the baseline is at `threshold` or worse. */
export function failsAt(report: Report, threshold: Severity): boolean {
  return report.findings.some((f) => !f.accepted && rank(f.severity) >= rank(threshold));
}
