import { Command, Option } from 'commander';
import { resolve } from 'node:path';
import cliProgress from 'cli-progress';
import { runAudit } from '../audit/run.js';
import { resolveTargets } from '../audit/target.js';
import { readBaseline, writeBaseline } from '../audit/baseline.js';
import { failsAt, SEVERITIES, type Severity } from '../report/finding.js';
import { FORMATS, renderReport, type Format } from '../report/render.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { collect } from './options.js';

interface AuditFlags {
  host: string[];
  context: string[];
  bundle?: string;
  root: string;
  format: Format;
  json?: boolean;
  output?: string;
  force?: boolean;
  failOn?: Severity;
  baseline?: string;
  writeBaseline?: string;
  progress: boolean;
}

/** One bar per daemon on stderr while its containers are inspected; only on a terminal. */
function progressBars(enabled: boolean) {
  if (!enabled) return { update: undefined, stop: () => undefined };
  const multi = new cliProgress.MultiBar({ stream: process.stderr, format: ' {bar} {value}/{total} containers  {target}', hideCursor: true, clearOnComplete: true }, cliProgress.Presets.shades_classic);
  const bars = new Map<string, cliProgress.SingleBar>();
  return {
    update: (target: string, done: number, total: number) => {
      let bar = bars.get(target);
      if (!bar) bars.set(target, (bar = multi.create(total, done, { target })));
      bar.setTotal(total);
      bar.update(done, { target });
    },
    stop: () => multi.stop(),
  };
}

export function registerAudit(program: Command): void {
  program
    .command('audit')
    .description("report the Docker host's security posture: daemon, files, TLS, containers, swarm; for people and CI")
    .option('--host <url>', 'daemon to audit: unix:///PATH or tcp://HOST:PORT (repeatable: a fleet in one report)', (v: string, p: string[]) => [...p, v], [])
    .option('--context <name>', 'audit the daemon of this docker CLI context (repeatable)', collect, [])
    .option('--bundle <dir>', 'TLS client bundle (ca.pem, cert.pem, key.pem) for the tcp:// hosts')
    .option('--root <dir>', "the Docker host's filesystem root for host checks (an image, a chroot, a test)", '/')
    .addOption(new Option('--format <format>', 'output format').choices([...FORMATS]).default('table'))
    .addOption(new Option('--json', 'the same as --format json, as elsewhere in dockward').conflicts('format'))
    .option('--output <file>', 'write the report to FILE instead of stdout')
    .option('--force', 'overwrite --output or --write-baseline if it exists')
    .addOption(new Option('--fail-on <severity>', 'exit 1 when a finding not in the baseline is at this severity or worse').choices([...SEVERITIES]))
    .option('--baseline <file>', 'accepted findings (written by --write-baseline): reported as accepted, not counted')
    .option('--write-baseline <file>', "write this run's findings as a baseline to FILE")
    .option('--no-progress', 'no progress bar on a terminal')
    .addHelpText(
      'after',
      `
Examples:
  dockward audit                                       the local daemon (DOCKER_HOST, the current context, or /var/run/docker.sock)
  dockward audit --format sarif --output audit.sarif --fail-on high
  dockward audit --host tcp://a:2376 --host tcp://b:2376 --bundle ~/.docker --format html --output fleet.html`,
    )
    .action(async (f: AuditFlags, cmd: Command) => {
      if (f.json) f.format = 'json';
      const targets = await resolveTargets({ hosts: f.host, contexts: f.context, bundle: f.bundle, env: process.env });
      const baseline = f.baseline ? await readBaseline(f.baseline) : undefined;
      const bars = progressBars(f.progress && process.stderr.isTTY === true);
      let report;
      try {
        report = await runAudit({ targets, root: f.root === '/' ? '/' : resolve(f.root), baseline, onProgress: bars.update, version: cmd.parent?.version() ?? '' });
      } finally {
        bars.stop();
      }
      const colour = f.format === 'table' && !f.output && process.stdout.isTTY === true && !process.env.NO_COLOR;
      const text = renderReport(report, f.format, colour);
      if (f.output) await writeFileAtomic(resolve(f.output), text, 0o644, { force: f.force });
      else process.stdout.write(text);
      if (f.writeBaseline) await writeBaseline(resolve(f.writeBaseline), report.findings, Boolean(f.force));
      for (const t of report.targets) if (t.error) process.stderr.write(`dockward: ${t.error}\n`);
      process.exitCode = report.targets.some((t) => t.error) || (f.failOn && failsAt(report, f.failOn)) ? 1 : 0;
    });
}
