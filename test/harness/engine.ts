import { execFileSync } from 'node:child_process';
import { runProcess, type ProcessResult } from './process.js';
import { mkdtemp, mkdir, symlink, copyFile, readFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createServer } from 'node:net';
import { startPrivateDaemon, type PrivateDaemon, type PrivateDaemonOptions } from '../../src/engine/private-daemon.js';

export const TEST_IMAGE = 'dockward-test/busybox:latest';

/**
 * Which dockerd the engine tests run against: `DOCKWARD_TEST_ENGINE=bookworm` (the default,
 * Debian bookworm's dockerd 20.10 on PATH), `newest` (the newest dockerd Debian ships) or `trixie`
 * (Debian stable's dockerd 26.1). The last two are unpacked by scripts/engines.sh under
 * DOCKWARD_ENGINES_DIR and run with their own containerd and bookworm's runc.
 */
export interface EngineInstall {
  name: 'bookworm' | 'newest' | 'trixie';
  dockerd: string;
  /** Put before PATH for dockerd: where its containerd, shim and docker-init are. */
  binDirs: string[];
}

export const ENGINES_DIR = process.env.DOCKWARD_ENGINES_DIR ?? '/var/cache/dockward/engines';
const NEWEST_ROOT = join(ENGINES_DIR, 'newest', 'root');

/**
 * The docker CLI every test drives, whichever engine runs: `DOCKWARD_TEST_DOCKER` (a path, e.g.
 * Debian bookworm's CLI 20.10 at /usr/bin/docker), else the newest CLI Debian ships, fetched by
 * scripts/engines.sh with the newest engine, so the tested client does not depend on the host's PATH.
 */
export const DOCKER_CLI = process.env.DOCKWARD_TEST_DOCKER ?? join(NEWEST_ROOT, 'usr/bin/docker');
/** buildx and compose: client-side plugins, from the newest engine's packages, used with either engine. */
const CLI_PLUGIN_DIR = join(NEWEST_ROOT, 'usr/libexec/docker/cli-plugins');

export function testEngineInstall(): EngineInstall {
  const name = process.env.DOCKWARD_TEST_ENGINE ?? 'bookworm';
  if (name === 'bookworm') return { name, dockerd: 'dockerd', binDirs: [] };
  if (name === 'newest' || name === 'trixie') {
    const root = join(ENGINES_DIR, name, 'root');
    return { name, dockerd: join(root, 'usr/sbin/dockerd'), binDirs: [join(root, 'usr/bin')] };
  }
  throw new Error(`DOCKWARD_TEST_ENGINE=${name}: expected "bookworm", "newest" or "trixie"`);
}

/**
 * PATH with the engine under test first: where `dockward daemon` finds the dockerd it validates
 * with, and that dockerd its containerd and shim.
 */
export function enginePath(): string {
  const { dockerd, binDirs } = testEngineInstall();
  const dirs = dockerd.startsWith('/') ? [dirname(dockerd), ...binDirs] : binDirs;
  return [...dirs, process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'].join(':');
}

/**
 * Engine tests are mandatory in CI: a missing engine there fails the run. Outside CI
 * (a laptop without dockerd) they are skipped with the reason.
 */
export function engineSkipReason(): string | undefined {
  const engine = testEngineInstall();
  const missing = [engine.dockerd, DOCKER_CLI, 'busybox'].filter((b) => !(b.startsWith('/') ? existsSync(b) : onPath(b)));
  const notRoot = process.getuid?.() !== 0;
  if (!missing.length && !notRoot) return undefined;
  const why = missing.length ? `missing ${missing.join(', ')} (scripts/engines.sh installs them)` : 'not running as root';
  if (process.env.CI) throw new Error(`engine tests need dockerd, docker, busybox and root in CI: ${why}`);
  return why;
}

function onPath(bin: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export type DockerResult = ProcessResult;

/** Runs the real docker CLI with its own empty config dir, so no user context leaks in. */
export async function runDocker(
  args: string[],
  opts: { env?: Record<string, string>; input?: string | Buffer; timeoutMs?: number; configDir?: string } = {},
): Promise<DockerResult> {
  const configDir = opts.configDir ?? (await mkdtemp(join(tmpdir(), 'dw-cli-')));
  await linkCliPlugins(configDir);
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: process.env.HOME ?? '/root',
    DOCKER_CONFIG: configDir,
    ...(opts.env ?? {}),
  };
  try {
    return await runProcess(DOCKER_CLI, args, { env, input: opts.input, timeoutMs: opts.timeoutMs });
  } finally {
    if (!opts.configDir) await rm(configDir, { recursive: true, force: true });
  }
}

/** Makes the CLI plugins (buildx, compose) visible to a docker CLI using `configDir`. */
export async function linkCliPlugins(configDir: string): Promise<void> {
  const link = join(configDir, 'cli-plugins');
  if (!existsSync(link)) await symlink(CLI_PLUGIN_DIR, link);
}

/**
 * Daemons this test process started and has not stopped. The runner ends a file that hangs or is
 * cancelled with SIGTERM, which skips every after() hook: without this, its dockerd (and that
 * daemon's containerd) outlived the run.
 */
const runningDaemons = new Set<number>();
const stopDaemonsAndDie = (signal: NodeJS.Signals) => {
  for (const pid of runningDaemons) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // Already gone.
    }
  }
  process.kill(process.pid, signal);
};

/** A private dockerd of the engine under test (see testEngineInstall), without the test image. */
export async function startEngineDaemon(opts: PrivateDaemonOptions = {}): Promise<PrivateDaemon> {
  const install = testEngineInstall();
  const daemon = await startPrivateDaemon({ dockerdPath: install.dockerd, binDirs: install.binDirs, ...opts });
  if (!runningDaemons.size) {
    process.once('SIGTERM', stopDaemonsAndDie);
    process.once('SIGINT', stopDaemonsAndDie);
  }
  runningDaemons.add(daemon.pid);
  return {
    ...daemon,
    stop: async () => {
      await daemon.stop();
      runningDaemons.delete(daemon.pid);
      if (!runningDaemons.size) {
        process.off('SIGTERM', stopDaemonsAndDie);
        process.off('SIGINT', stopDaemonsAndDie);
      }
    },
  };
}

/** A rootfs of the host's static busybox and its applet links, imported as TEST_IMAGE. */
export async function importTestImage(socketPath: string): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'dw-img-'));
  try {
    await mkdir(join(root, 'bin'));
    await mkdir(join(root, 'tmp'), { mode: 0o1777 });
    for (const d of ['etc', 'proc', 'sys', 'dev', 'root']) await mkdir(join(root, d));
    const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p))!;
    await copyFile(busybox, join(root, 'bin', 'busybox'));
    const applets = execFileSync(busybox, ['--list']).toString().split('\n').filter((a) => a && a !== 'busybox');
    for (const a of applets) await symlink('busybox', join(root, 'bin', a));
    const tarPath = `${root}.tar`;
    execFileSync('tar', ['-C', root, '-cf', tarPath, '.']);
    const res = await runDocker(
      ['-H', `unix://${socketPath}`, 'import', '--change', 'CMD ["/bin/sh"]', '--change', 'ENV PATH=/bin', tarPath, TEST_IMAGE],
      { timeoutMs: 120_000 },
    );
    await rm(tarPath, { force: true });
    if (res.code !== 0) throw new Error(`docker import failed: ${res.stderr}`);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

export interface TestEngine extends PrivateDaemon {
  /** `docker -H unix://…` against this daemon. */
  docker(args: string[], opts?: Parameters<typeof runDocker>[1]): Promise<DockerResult>;
}

export async function startTestEngine(opts: PrivateDaemonOptions & { image?: boolean } = {}): Promise<TestEngine> {
  const daemon = await startEngineDaemon(opts);
  const engine: TestEngine = {
    ...daemon,
    docker: (args, o) => runDocker(['-H', `unix://${daemon.socketPath}`, ...args], o),
  };
  if (opts.image !== false) {
    try {
      await importTestImage(daemon.socketPath);
    } catch (e) {
      await daemon.stop();
      throw e;
    }
  }
  return engine;
}

/**
 * A free loopback TCP port for a listener the test starts right away. It is bound then released,
 * so it is picked below the kernel's ephemeral range: a port from that range (what listen(0)
 * gives) can be taken in the meantime as the local port of any outgoing connection on the host,
 * and the tests make thousands of them.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const [ephemeralLow] = (await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').catch(() => '')).trim().split(/\s+/).map(Number);
  const below = ephemeralLow && ephemeralLow > 20_000 ? ephemeralLow : 0;
  for (let attempt = 0; attempt < 100; attempt++) {
    const candidate = below ? 10_000 + Math.floor(Math.random() * (below - 10_000)) : 0;
    const port = await tryListen(host, candidate);
    if (port) return port;
  }
  throw new Error(`no free port on ${host} below ${below} after 100 tries`);
}

/** Binds and releases `port` (0: any); the port bound, or undefined if it is taken. */
function tryListen(host: string, port: number): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', (e: NodeJS.ErrnoException) => (e.code === 'EADDRINUSE' ? resolve(undefined) : reject(e)));
    srv.listen(port, host, () => {
      const bound = (srv.address() as { port: number }).port;
      srv.close(() => resolve(bound));
    });
  });
}

/** dockerd's own TLS listener flags for a PKI's server material, on a loopback port. */
export function dockerdTlsArgs(serverDir: string, port: number): string[] {
  return [
    '-H', `tcp://127.0.0.1:${port}`,
    '--tlsverify',
    '--tlscacert', join(serverDir, 'ca.pem'),
    '--tlscert', join(serverDir, 'server-cert.pem'),
    '--tlskey', join(serverDir, 'server-key.pem'),
  ];
}
