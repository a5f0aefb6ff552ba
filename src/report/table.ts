import Table from 'cli-table3';
import { styleText } from 'node:util';
import { count, SEVERITIES, type Report, type Severity } from './finding.js';

/** The terminal report: one table per target, worst first, then what was skipped and a summary line. */
const COLOUR: Record<Severity, Parameters<typeof styleText>[0]> = { critical: ['bold', 'red'], high: 'red', medium: 'yellow', low: 'cyan', info: 'gray' };

export function summaryLine(r: Report): string {
  const s = r.summary;
  const counts = SEVERITIES.map((sev) => `${s[sev]} ${sev}`).join(', ');
  const containers = r.targets.reduce((n, t) => n + (t.containers ?? 0), 0);
  return `${count(r.findings.length - s.accepted, 'finding')} (${counts})${s.accepted ? `, ${s.accepted} accepted by the baseline` : ''} on ${count(r.targets.length, 'daemon')}, ${count(containers, 'container')}`;
}

export function renderTable(r: Report, colour: boolean): string {
  const paint = (sev: Severity, text: string) => (colour ? styleText(COLOUR[sev], text) : text);
  const lines: string[] = [];
  for (const t of r.targets) {
    const engine = t.engine ? `dockerd ${t.engine.version} (API ${t.engine.apiVersion}) ${t.engine.name}, ${count(t.containers ?? 0, 'container')}, via ${t.transport}` : t.error;
    lines.push(`${t.target}: ${engine}`);
    const mine = r.findings.filter((f) => f.target === t.target);
    if (mine.length) {
      const table = new Table({ head: ['severity', 'check', 'subject', 'finding'], colWidths: [10, 26, 28, 70], wordWrap: true, style: { head: colour ? ['bold'] : [], border: [] } });
      for (const f of mine) table.push([paint(f.severity, f.accepted ? `(${f.severity})` : f.severity), f.check, f.subject, f.accepted ? `accepted: ${f.message}` : f.message]);
      lines.push(table.toString());
    } else if (!t.error) {
      lines.push('  no findings');
    }
    for (const s of r.skipped.filter((x) => x.target === t.target)) lines.push(`  skipped ${s.checks.length} checks: ${s.reason}`);
    lines.push('');
  }
  lines.push(summaryLine(r));
  return `${lines.join('\n')}\n`;
}
