import type { Finding, Severity } from '../report/finding.js';
import { checkOf } from './catalog.js';
import type { EngineFacts } from './engine-facts.js';
import type { HostFacts } from './host-facts.js';
import type { AuditTarget } from './target.js';

/** What every check is given: the daemon as the API shows it and, for a local daemon, its host. */
export interface CheckContext {
  target: AuditTarget;
  engine: EngineFacts;
  host?: HostFacts;
  now: Date;
}

export interface Emitted {
  subject: string;
  message: string;
  evidence: string[];
  severity?: Severity;
  file?: string;
}

/** Collects findings for one target; the severity is the check's unless a finding says otherwise. */
export class Findings {
  readonly list: Finding[] = [];
  constructor(private readonly target: string) {}

  add(check: string, f: Emitted): void {
    this.list.push({ check, severity: f.severity ?? checkOf(check).severity, target: this.target, subject: f.subject, message: f.message, evidence: f.evidence, ...(f.file ? { file: f.file } : {}) });
  }
}

export type CheckFn = (ctx: CheckContext, out: Findings) => void | Promise<void>;
