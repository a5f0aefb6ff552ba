/**
 * `dockward audit` of a daemon with many containers against what docker-bench-security style
 * scripts do: one `docker inspect` per container in a shell loop, on the same daemon in the
 * same run. Containers are created, not started (their configuration is what is audited).
 * AUDIT_BENCH_CONTAINERS sets how many (default 500).
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { engineJson } from '../src/engine/engine-client.js';
import { DOCKER_CLI, startEngineDaemon, importTestImage, TEST_IMAGE } from '../test/harness/engine.js';

const BIN = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));

function timed(command: string, args: string[], env: NodeJS.ProcessEnv): number {
  const t = process.hrtime.bigint();
  const r = spawnSync(command, args, { env, stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 64 << 20 });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.status !== 0 && !(command === process.execPath && r.status === 1)) throw new Error(`${command} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return ms;
}

export async function benchAudit(): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.log('audit bench: skipped, it starts a private dockerd and needs root');
    return;
  }
  const n = Number(process.env.AUDIT_BENCH_CONTAINERS ?? 500);
  const daemon = await startEngineDaemon();
  const config = await mkdtemp(join(tmpdir(), 'dw-bcli-'));
  try {
    await importTestImage(daemon.socketPath);
    const ep = { socketPath: daemon.socketPath };
    let next = 0;
    const create = async () => {
      while (next < n) {
        const i = next++;
        await engineJson(ep, 'POST', `/containers/create?name=c${i}`, { Image: TEST_IMAGE, Cmd: ['true'], HostConfig: { NetworkMode: 'none', Privileged: i % 50 === 0 } });
      }
    };
    await Promise.all(Array.from({ length: 8 }, create));
    const env = { ...process.env, DOCKER_HOST: `unix://${daemon.socketPath}`, DOCKER_CONFIG: config };
    const audit = timed(process.execPath, [BIN, 'audit', '--host', `unix://${daemon.socketPath}`, '--format', 'json', '--no-progress'], env);
    const loop = timed('sh', ['-c', `for id in $("${DOCKER_CLI}" ps -aq); do "${DOCKER_CLI}" inspect "$id" >/dev/null || exit 1; done`], env);
    console.log(`audit bench: ${n} containers (created, not started), dockerd ${process.env.DOCKWARD_TEST_ENGINE ?? 'bookworm'}`);
    console.log(`  dockward audit (whole, process start included)  ${(audit / 1000).toFixed(2)} s`);
    console.log(`  docker inspect per container, shell loop         ${(loop / 1000).toFixed(2)} s`);
    console.log(`  ratio: audit is ${(loop / audit).toFixed(1)}x faster (target >= 10x)`);
  } finally {
    await daemon.stop();
    await rm(config, { recursive: true, force: true });
  }
}
