import { count, SEVERITIES, type Report, type Severity } from './finding.js';
import { summaryLine } from './table.js';

/**
 * A standalone page (no script, no external resource): a summary chart by severity, then each
 * daemon's findings with their evidence and the fixing command, worst first.
 */
const COLOUR: Record<Severity, string> = { critical: '#8b0000', high: '#d1242f', medium: '#bf8700', low: '#0969da', info: '#6e7781' };

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
/** `dockward …` in a remediation, set as code. */
const withCode = (s: string) => esc(s).replace(/`([^`]+)`/g, '<code>$1</code>');

function chart(r: Report): string {
  const max = Math.max(1, ...SEVERITIES.map((s) => r.summary[s]));
  const rows = SEVERITIES.map((s, i) => {
    const w = Math.round((r.summary[s] / max) * 300);
    const y = i * 28;
    return `<text x="0" y="${y + 18}">${s}</text><rect x="80" y="${y + 4}" width="${w}" height="20" fill="${COLOUR[s]}"/><text x="${88 + w}" y="${y + 18}">${r.summary[s]}</text>`;
  });
  return `<svg role="img" aria-label="findings by severity" width="440" height="${SEVERITIES.length * 28}" font-size="14">${rows.join('')}</svg>`;
}

export function renderHtml(r: Report): string {
  const checks = new Map(r.checks.map((c) => [c.id, c]));
  const targets = r.targets.map((t) => {
    const mine = r.findings.filter((f) => f.target === t.target);
    const head = t.engine ? `dockerd ${esc(t.engine.version)} (API ${esc(t.engine.apiVersion)}), ${count(t.containers ?? 0, 'container')}, via ${t.transport}` : `<strong>not audited:</strong> ${esc(t.error ?? '')}`;
    const items = mine.map((f) => {
      const c = checks.get(f.check);
      // The worst are open: their evidence and fix are what a reader came for.
      const open = !f.accepted && (f.severity === 'critical' || f.severity === 'high') ? ' open' : '';
      return `<details class="f ${f.severity}${f.accepted ? ' accepted' : ''}"${open}><summary><span class="sev" style="background:${COLOUR[f.severity]}">${f.severity}</span> <code>${esc(f.check)}</code> ${esc(f.subject)}: ${esc(f.message)}${f.accepted ? ' <em>(accepted)</em>' : ''}</summary>
<p class="title">${esc(c?.title ?? '')}${c?.cis ? ` · CIS Docker Benchmark 1.6.0 ${esc(c.cis)}` : ''}</p>
<ul>${f.evidence.map((e) => `<li><code>${esc(e)}</code></li>`).join('')}</ul>
<p class="fix">Fix: ${withCode(c?.remediation ?? '')}</p></details>`;
    });
    const skipped = r.skipped.filter((s) => s.target === t.target).map((s) => `<p class="skipped">Skipped ${s.checks.length} checks: ${esc(s.reason)}</p>`);
    return `<section><h2>${esc(t.target)}</h2><p>${head}</p>${items.join('\n') || '<p>No findings.</p>'}${skipped.join('')}</section>`;
  });
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>dockward audit ${esc(r.generatedAt)}</title>
<style>
body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:70rem;padding:0 1rem;color:#1f2328}
h1{margin-bottom:.2rem} svg text{fill:#1f2328}
#summary{border:1px solid #d0d7de;border-radius:6px;padding:1rem;margin:1rem 0}
.sev{color:#fff;border-radius:4px;padding:0 .4rem;font-size:.85em;text-transform:uppercase}
details.f{border-bottom:1px solid #eaeef2;padding:.3rem 0} details.f summary{cursor:pointer}
.accepted{opacity:.6} .title{color:#57606a;margin:.3rem 0} .fix{margin:.3rem 0} code{font-size:.9em}
.skipped{color:#57606a;font-style:italic}
</style></head><body>
<h1>dockward audit</h1><p>${esc(r.generatedAt)} · dockward ${esc(r.tool.version)}</p>
<div id="summary"><h2>Summary</h2><p id="summary-line">${esc(summaryLine(r))}</p>${chart(r)}</div>
${targets.join('\n')}
</body></html>
`;
}
