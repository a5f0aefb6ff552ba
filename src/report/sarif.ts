import type { Log, Result, ReportingDescriptor } from 'sarif';
import type { Report, Severity } from './finding.js';

/**
 * SARIF 2.1.0, for code scanning: every check is a rule (its id is the ruleId), every finding a
 * result. A finding about a file on the host points at it; the others name the daemon and the
 * object as a logical location. Accepted findings carry a suppression, as SARIF says.
 */
const LEVEL: Record<Severity, Result.level> = { critical: 'error', high: 'error', medium: 'warning', low: 'note', info: 'note' };
/** GitHub code scanning reads `security-severity` (0–10) to rank security results. */
const SCORE: Record<Severity, string> = { critical: '9.5', high: '8.0', medium: '5.5', low: '3.0', info: '0.0' };

export function renderSarif(r: Report): string {
  const rules: ReportingDescriptor[] = r.checks.map((c) => ({
    id: c.id,
    name: c.id.replace(/-/g, ''),
    shortDescription: { text: c.title },
    help: { text: c.remediation },
    defaultConfiguration: { level: LEVEL[c.severity] },
    properties: { tags: ['security', 'docker', c.category, ...(c.cis ? [`CIS-Docker-1.6.0-${c.cis}`] : [])], 'security-severity': SCORE[c.severity] },
  }));
  const index = new Map(rules.map((rule, i) => [rule.id, i]));
  const results: Result[] = r.findings.map((f) => ({
    ruleId: f.check,
    ruleIndex: index.get(f.check),
    level: LEVEL[f.severity],
    message: { text: `${f.subject}: ${f.message}` },
    locations: [
      {
        ...(f.file ? { physicalLocation: { artifactLocation: { uri: `file://${encodeURI(f.file)}` } } } : {}),
        logicalLocations: [{ name: f.subject, fullyQualifiedName: `${f.target}/${f.subject}`, kind: 'resource' }],
      },
    ],
    partialFingerprints: { 'dockwardFinding/v1': `${f.check}|${f.target}|${f.subject}` },
    properties: { severity: f.severity, target: f.target, evidence: f.evidence, 'security-severity': SCORE[f.severity] },
    ...(f.accepted ? { suppressions: [{ kind: 'external', justification: 'accepted in the dockward audit baseline' }] } : {}),
  }));
  const log: Log = {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: { driver: { name: 'dockward', version: r.tool.version, rules } },
        invocations: [{ executionSuccessful: r.targets.every((t) => !t.error), endTimeUtc: r.generatedAt }],
        results,
      },
    ],
  };
  return `${JSON.stringify(log, null, 2)}\n`;
}
