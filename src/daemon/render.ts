import { createTwoFilesPatch } from 'diff';
import type { FileChange, Plan, Problem } from './plan.js';

function fileDiff(f: FileChange): string {
  const patch = createTwoFilesPatch(f.before ? `a${f.path}` : '/dev/null', `b${f.path}`, f.before?.toString('utf8') ?? '', f.after.toString('utf8'));
  // createTwoFilesPatch opens with a separator line of its own; the ---/+++ header says it all.
  return patch.split('\n').filter((l) => !l.startsWith('=====')).join('\n').trimEnd();
}

/** The command that makes the new configuration take effect. */
export function restartCommand(plan: Pick<Plan, 'unitChanged'>): string {
  return plan.unitChanged ? 'systemctl daemon-reload && systemctl restart docker' : 'systemctl restart docker';
}

function problemLine(p: Problem): string {
  const where = p.file ? `${p.file}${p.line ? `:${p.line}` : ''}: ` : '';
  const tag = p.severity === 'blocking' ? 'BLOCKS APPLY' : p.severity === 'fixed' ? 'fixed by this plan' : 'warning';
  return `  [${tag}] ${where}${p.message}\n      fix: ${p.fix}`;
}

/** A unified diff per file, then each change with its why, then the problems with their fix. */
export function renderPlan(plan: Plan): string {
  const out: string[] = [];
  if (!plan.files.length) out.push('No file changes: the daemon configuration already matches.');
  for (const f of plan.files) {
    if (f.summary) {
      out.push(`--- ${f.path}\n${f.summary} (mode ${f.mode.toString(8).padStart(4, '0')})`);
      continue;
    }
    out.push(fileDiff(f));
  }
  if (plan.changes.length) {
    out.push('', 'What changes and why:');
    for (const c of plan.changes) out.push(`  ${c.file}: ${c.what}\n      why: ${c.why}`);
  }
  if (plan.problems.length) {
    out.push('', 'Problems found:');
    for (const p of plan.problems) out.push(problemLine(p));
  }
  out.push('', `daemon.json keys checked against ${plan.keysOf}.`);
  return `${out.join('\n')}\n`;
}

export function planJson(plan: Plan): unknown {
  return {
    root: plan.root,
    files: plan.files.map((f) => ({
      path: f.path,
      new: !f.before,
      mode: `0${f.mode.toString(8)}`,
      ...(f.summary ? { summary: f.summary } : { diff: fileDiff(f) }),
    })),
    changes: plan.changes,
    problems: plan.problems,
    blocking: plan.problems.some((p) => p.severity === 'blocking'),
    keysOf: plan.keysOf,
    restart: restartCommand(plan),
  };
}
