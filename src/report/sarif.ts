import type { Log, Result, ReportingDescriptor } from 'sarif';
import type { Finding, Report, Severity } from './finding.js';

/**
 * SARIF 2.1.0, for code scanning: every check is a rule (its id is the ruleId), every finding a
 * result, located at the host file it is about or at its daemon and object. Accepted findings
 * carry a suppression, as SARIF says.
 */
const LEVEL: Record<Severity, Result.level> = { critical: 'error', high: 'error', medium: 'warning', low: 'note', info: 'note' };
/** GitHub code scanning reads `security-severity` (0–10) to rank security results. */
const SCORE: Record<Severity, string> = { critical: '9.5', high: '8.0', medium: '5.5', low: '3.0', info: '0.0' };

/**
 * Code scanning needs a physical location on every result: the host file a finding is about,
 * else a relative reference naming the daemon and the object (as image scanners name an image).
 */
function artifactUri(f: Finding): string {
  return f.file ? `file://${encodeURI(f.file)}` : `${encodeURIComponent(f.target)}/${encodeURIComponent(f.subject)}`;
}

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
        physicalLocation: { artifactLocation: { uri: artifactUri(f) } },
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
