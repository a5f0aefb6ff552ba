import { spawnSync } from 'node:child_process';
import { DockwardError, UsageError } from '../util/errors.js';
import { computePlan, type Plan, type PlanOptions } from './plan.js';
import { renderPlan, planJson, restartCommand } from './render.js';
import { validateCandidate } from './validate.js';
import { applyPlan, rollback } from './apply.js';
import { findDockerd, type Dockerd } from './dockerd.js';

/**
 * What `dockward daemon plan|apply|rollback` do, and what they print; the CLI turns flags into
 * these options and gives them its terminal.
 */
export interface Output {
  out(text: string): void;
  /** Asks a yes/no question; absent where nobody can answer (no terminal). */
  confirm?: (question: string) => Promise<boolean>;
}
const blocking = (plan: Plan) => plan.problems.filter((p) => p.severity === 'blocking');

/** Prints the plan; exit code 1 when a problem blocks apply. */
export async function planCommand(opts: PlanOptions & { json?: boolean }, io: Output): Promise<number> {
  const plan = await computePlan({ ...opts, dockerd: await findDockerd() });
  io.out(opts.json ? `${JSON.stringify(planJson(plan), null, 2)}\n` : renderPlan(plan));
  return blocking(plan).length ? 1 : 0;
}

export interface ApplyOptions extends PlanOptions {
  json?: boolean;
  yes?: boolean;
  restart?: boolean;
  /** Skip the throw-away dockerd (no dockerd on this machine, e.g. building an image): said in the output. */
  validate: boolean;
}

function requireDockerd(dockerd: Dockerd | undefined): Dockerd {
  if (process.getuid?.() !== 0) throw new DockwardError('validating needs root: the throw-away dockerd runs as root', 'run as root, or pass --no-validate to write an unproven configuration');
  if (!dockerd) throw new DockwardError('dockerd is not on PATH here, so the configuration cannot be proven before it is written', 'install docker.io (or put the dockerd to validate with first on PATH), or pass --no-validate');
  return dockerd;
}

export async function applyCommand(opts: ApplyOptions, io: Output): Promise<number> {
  if (opts.restart && opts.root !== '/') throw new UsageError('--restart works only on this system (--root /)', 'restart the daemon on the target system');
  const confirm = io.confirm;
  if (!opts.yes && !confirm) throw new UsageError('apply changes files and there is no terminal to confirm on', 'review `dockward daemon plan`, then pass --yes');
  const dockerd = await findDockerd();
  const plan = await computePlan({ ...opts, dockerd });
  const log = (t: string) => {
    if (!opts.json) io.out(t);
  };
  log(renderPlan(plan));
  const blockers = blocking(plan);
  if (blockers.length) {
    throw new DockwardError(`${blockers.length} problem${blockers.length > 1 ? 's' : ''} must be fixed first: ${blockers[0]!.message}`, blockers[0]!.fix);
  }
  if (!plan.files.length) {
    if (opts.json) io.out(`${JSON.stringify({ ...(planJson(plan) as object), applied: false }, null, 2)}\n`);
    return 0;
  }
  let notValidated: string[] | undefined;
  if (opts.validate) {
    const d = requireDockerd(dockerd);
    const res = await validateCandidate(plan.config, { root: opts.root, staged: plan.files, flags: plan.flags, dockerd: d });
    if (!res.ok) throw new DockwardError(`dockerd refuses this configuration: ${res.reason}`, 'nothing was written; fix the problem and plan again');
    notValidated = res.notValidated;
    const withFlags = plan.flags.length ? " and the unit's dockerd flags" : '';
    if (res.validateFlag) log(`\nValidated: \`dockerd --validate\` (${d.version}, ${d.path}) accepts this daemon.json${withFlags}${res.validateFlag.without.length ? `, without ${res.validateFlag.without.join(', ')}` : ''}.`);
    log(`\nValidated: a throw-away dockerd ${d.version} started with this daemon.json${withFlags}${notValidated.length ? `, without ${notValidated.join('; ')}` : ''}.\n`);
  } else {
    log('\nNot validated (--no-validate): dockerd has not seen this configuration.\n');
  }
  if (!opts.yes && !(await confirm!('Write these changes? [y/N] '))) throw new DockwardError('nothing written', 'answer y, or pass --yes');
  const { backupDir } = await applyPlan(plan);
  const restart = restartCommand(plan);
  let restarted = false;
  if (opts.restart) {
    const r = spawnSync('sh', ['-c', restart], { stdio: opts.json ? 'ignore' : 'inherit' });
    if (r.status !== 0) throw new DockwardError(`\`${restart}\` failed (the files are written; backup in ${backupDir})`, 'see `journalctl -u docker`, or run `dockward daemon rollback`');
    restarted = true;
  }
  if (opts.json) {
    io.out(`${JSON.stringify({ ...(planJson(plan) as object), applied: true, backupDir, validated: opts.validate, notValidated, restarted }, null, 2)}\n`);
  } else {
    io.out(`\nWritten. Backup of the previous files: ${backupDir} (undo with \`dockward daemon rollback${opts.root !== '/' ? ` --root ${opts.root}` : ''}\`).\n`);
    io.out(restarted ? `Restarted: ${restart}\n` : `To take effect, run${opts.root !== '/' ? ' on the target system' : ''}: ${restart}\n`);
  }
  return 0;
}

export async function rollbackCommand(opts: { root: string; force?: boolean; json?: boolean }, io: Output): Promise<number> {
  const res = await rollback(opts.root, { force: opts.force });
  const restart = restartCommand({ unitChanged: [...res.restored, ...res.removed].some((p) => p.includes('/systemd/')) });
  if (opts.json) {
    io.out(`${JSON.stringify({ ...res, restart }, null, 2)}\n`);
  } else {
    for (const p of res.restored) io.out(`restored ${p}\n`);
    for (const p of res.removed) io.out(`removed ${p} (dockward had created it)\n`);
    io.out(`From ${res.backupDir}. To take effect, run${opts.root !== '/' ? ' on the target system' : ''}: ${restart}\n`);
  }
  return 0;
}
