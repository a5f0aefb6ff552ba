/**
 * What users feel: whole docker CLI commands, timed from spawn to exit, through each target of
 * the same stack, with the CLI 28 (the newest engine's) and Debian bookworm's CLI 20.10. Each
 * figure is the median of BENCH_COMMAND_RUNS, the targets taken round-robin so that load from
 * the rest of the machine falls on all of them alike.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { engineJson, type EngineEndpoint } from '../src/engine/engine-client.js';
import { DOCKER_CLI, linkCliPlugins, TEST_IMAGE } from '../test/harness/engine.js';
import type { Stack, Target, TargetName } from './stack.js';
import { writeRandomFile } from './random-file.js';
import { fmt, median, ratio } from './table.js';

const RUNS = Number(process.env.BENCH_COMMAND_RUNS ?? 5);
const CP_MB = Number(process.env.BENCH_CP_MB ?? 100);
const LOGS_MB = Number(process.env.BENCH_CMD_LOGS_MB ?? 10);
const IMAGE_MB = Number(process.env.BENCH_IMAGE_MB ?? 200);
const CONTEXT_MB = Number(process.env.BENCH_CONTEXT_MB ?? 200);
const PS_CONTAINERS = 50;
/** BENCH_COMMANDS=run,exec: only these docker subcommands (tuning sessions). */
const ONLY = (process.env.BENCH_COMMANDS ?? '').split(',').filter(Boolean);
const CLI_2010 = process.env.BENCH_CLI_2010 ?? '/usr/bin/docker';

export interface Command {
  name: string;
  args: string[];
  env?: Record<string, string>;
  /** The client identity through a TLS target (default admin). */
  as?: string;
  /** Not timed: puts the daemon back as the command expects it (an image removed, say). */
  before?: () => Promise<void>;
}

/** Milliseconds one docker command takes, spawn to exit. */
export function timeDocker(cli: string, target: Target, stack: Stack, configDir: string, c: Command): Promise<number> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/root',
    DOCKER_CONFIG: configDir,
    DOCKER_HOST: target.dockerHost,
    ...(target.name === 'direct' ? {} : { DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: c.as ? stack.clientCertPath(c.as) : stack.certPath }),
    ...c.env,
  };
  const started = performance.now();
  return new Promise((resolve, reject) => {
    execFile(cli, c.args, { env, maxBuffer: 1 << 30, timeout: 300_000, encoding: 'buffer' }, (err, _out, stderr) => {
      if (err) reject(new Error(`docker ${c.args.join(' ')} via ${target.name}: ${stderr.toString().trim() || err.message}`));
      else resolve(performance.now() - started);
    });
  });
}

/**
 * Seconds, median of RUNS per target, targets round-robin. A target whose command fails is left
 * out of that row (NaN) with its reason, and the others go on.
 */
async function timeCommand(cli: string, targets: Target[], stack: Stack, configDir: string, c: Command): Promise<Map<TargetName, number>> {
  const runs = new Map<TargetName, number[]>(targets.map((t) => [t.name, []]));
  const failed = new Map<TargetName, string>();
  for (let i = 0; i < RUNS; i++) {
    for (const t of targets) {
      if (failed.has(t.name)) continue;
      await c.before?.();
      try {
        runs.get(t.name)!.push((await timeDocker(cli, t, stack, configDir, c)) / 1000);
      } catch (e) {
        failed.set(t.name, (e as Error).message.split('\n')[0]!);
      }
    }
  }
  for (const why of failed.values()) console.log(`  (failed: ${why})`);
  return new Map([...runs].map(([n, r]) => [n, failed.has(n) ? NaN : median(r)]));
}

export async function benchCommands(stack: Stack): Promise<void> {
  const direct: EngineEndpoint = stack.targets[0]!.ep;
  const work = await mkdtemp(join(stack.dir, 'cmd-'));
  const configDir = join(work, 'config');
  await mkdir(configDir);
  await linkCliPlugins(configDir);
  const create = (name: string, cmd: string[]) =>
    engineJson<{ Id: string }>(direct, 'POST', `/containers/create?name=${name}`, { Image: TEST_IMAGE, Cmd: cmd, HostConfig: { NetworkMode: 'none' } });
  const start = (id: string) => engineJson(direct, 'POST', `/containers/${id}/start`);

  const c = await create('cmd-c', ['sleep', '3600']);
  await start(c.Id);
  for (let i = 0; i < PS_CONTAINERS - 1; i++) await create(`cmd-ps${i}`, ['true']);
  const logger = await create('cmd-logs', ['sh', '-c', `yes 0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456 | head -c ${LOGS_MB * 1_000_000}`]);
  await start(logger.Id);
  await engineJson(direct, 'POST', `/containers/${logger.Id}/wait`);

  const cpFile = join(work, 'cp.bin');
  const ctxDir = join(work, 'context');
  const imageTar = join(work, 'image.tar');
  const prepareBig = async () => {
    await writeRandomFile(cpFile, CP_MB);
    await mkdir(ctxDir);
    await writeRandomFile(join(ctxDir, 'big.bin'), CONTEXT_MB);
    await writeFile(join(ctxDir, 'Dockerfile'), `FROM ${TEST_IMAGE}\nLABEL bench=context\n`);
    const imgSrc = (await create('cmd-img', ['true'])).Id;
    const imgFile = join(work, 'img.bin');
    await writeRandomFile(imgFile, IMAGE_MB);
    await runDirect(stack, configDir, ['cp', imgFile, `${imgSrc}:/big.bin`]);
    await rm(imgFile);
    await runDirect(stack, configDir, ['commit', imgSrc, 'bench/large:latest']);
    await runDirect(stack, configDir, ['rm', '-f', imgSrc]);
    await runDirect(stack, configDir, ['save', '-o', imageTar, 'bench/large:latest']);
  };
  const removeImage = async () => {
    await runDirect(stack, configDir, ['rmi', '-f', 'bench/large:latest']).catch(() => undefined);
  };
  const loadBack = async () => {
    if (!(await runDirect(stack, configDir, ['image', 'inspect', 'bench/large:latest']).then(() => true, () => false))) {
      await runDirect(stack, configDir, ['load', '-i', imageTar]);
    }
  };

  const quick: Command[] = [
    { name: 'run --rm … true', args: ['run', '--rm', '--network', 'none', TEST_IMAGE, 'true'] },
    { name: 'exec c true', args: ['exec', 'cmd-c', 'true'] },
    { name: `ps -a (${PS_CONTAINERS})`, args: ['ps', '-a'] },
    { name: 'inspect c', args: ['inspect', 'cmd-c'] },
    { name: `logs ${LOGS_MB} MB`, args: ['logs', 'cmd-logs'] },
  ];
  const big: Command[] = [
    { name: `cp in ${CP_MB} MB`, args: ['cp', cpFile, 'cmd-c:/tmp/cp.bin'] },
    { name: `cp out ${CP_MB} MB`, args: ['cp', 'cmd-c:/tmp/cp.bin', join(work, 'out.bin')], before: () => rm(join(work, 'out.bin'), { force: true }) },
    { name: `save ${IMAGE_MB} MB image`, args: ['save', '-o', join(work, 'saved.tar'), 'bench/large:latest'], before: loadBack },
    { name: `load ${IMAGE_MB} MB image`, args: ['load', '-i', imageTar], before: removeImage },
    { name: `build, ${CONTEXT_MB} MB context`, args: ['build', '-q', '-t', 'bench/ctx', ctxDir], env: { DOCKER_BUILDKIT: '0' } },
  ];

  // Archives and images (random bytes, so nothing compresses them away) only when measured.
  if (!ONLY.length || big.some((b) => ONLY.includes(b.args[0]!))) await prepareBig();

  const tls = stack.targets.filter((t) => t.name !== 'direct');
  const names = stack.targets.map((t) => t.name);
  console.log(`\ndocker commands: seconds, median of ${RUNS}, targets round-robin; ratios to dockerd's own TLS`);
  console.log(`${'CLI  command'.padEnd(32)} ${names.map((n) => n.padStart(11)).join(' ')}  ${tls.slice(1).map((t) => `${t.name}/tls`.padStart(12)).join(' ')} ${'gw/node'.padStart(8)}`);
  const row = (label: string, m: Map<TargetName, number>) =>
    console.log(
      `${label.padEnd(32)} ${names.map((n) => fmt(m.get(n) ?? NaN, 3).padStart(11)).join(' ')}  ${tls
        .slice(1)
        .map((t) => ratio(m.get(t.name) ?? NaN, m.get('dockerd-tls') ?? NaN).padStart(12))
        .join(' ')} ${ratio(m.get('gateway') ?? NaN, m.get('node-floor') ?? NaN).padStart(8)}`,
    );
  const clis: [string, string][] = [['28', DOCKER_CLI]];
  if (existsSync(CLI_2010)) clis.push(['20', CLI_2010]);
  else console.log(`(no CLI 20.10 at ${CLI_2010}: apt-get install docker.io, or BENCH_CLI_2010=/path)`);
  // Archives and images with the CLI 28 only, through the TLS endpoints: what they move, not how.
  const plan: [string, string, Target[], Command][] = [
    ...clis.flatMap(([v, cli]) => quick.map((cmd): [string, string, Target[], Command] => [v, cli, stack.targets, cmd])),
    ...big.map((cmd): [string, string, Target[], Command] => ['28', DOCKER_CLI, tls, cmd]),
  ];
  for (const [v, cli, targets, cmd] of plan) {
    if (ONLY.length && !ONLY.includes(cmd.args[0]!)) continue;
    try {
      const m = await timeCommand(cli, targets, stack, configDir, cmd);
      row(`${v}   ${cmd.name}`, m);
      stack.summary.add(`CLI ${v === '20' ? '20.10' : v}: \`${cmd.name}\`, s`, m, 3);
    } catch (e) {
      console.log(`${v}   ${cmd.name}: failed, ${(e as Error).message.split('\n')[0]}`);
    }
  }
  await rm(work, { recursive: true, force: true });
}

function runDirect(stack: Stack, configDir: string, args: string[]): Promise<number> {
  return timeDocker(DOCKER_CLI, stack.targets[0]!, stack, configDir, { name: args[0]!, args });
}
