/**
 * `dockward socket-proxy` with docker-socket-proxy's configuration from a real compose file (read
 * by the real `docker compose config`), against a private dockerd: a Traefik-like read-only client
 * works and writes are refused; with POST=1 the body checks still refuse a privileged create.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { engineSkipReason, freePort, runDocker, startTestEngine, TEST_IMAGE, DOCKER_CLI, type TestEngine } from '../harness/engine.js';
import { DOCKWARD_BIN, dockward } from '../harness/cli.js';
import { runProcess } from '../harness/process.js';
import { haproxyBool, readSocketProxyEnv, socketProxyPolicyYaml } from '../../src/socket-proxy/env.js';
import { socketProxyOptions } from '../../src/socket-proxy/options.js';
import { startGateway } from '../../src/gateway/server.js';

const skip = engineSkipReason();

test("a switch is on only when it starts with a non-zero integer, as HAProxy's -m bool reads it", () => {
  const cases: [string | undefined, boolean][] = [['1', true], ['2', true], ['1yes', true], ['01', true], ['0', false], ['00', false], ['true', false], ['yes', false], ['on', false], ['', false], [undefined, false], [' 1', false]];
  for (const [value, on] of cases) assert.equal(haproxyBool(value), on, `value ${JSON.stringify(value)}`);
});

test('defaults are the image\'s: EVENTS, PING and VERSION on; ALLOW_* need POST; POST=true is off', () => {
  const d = readSocketProxyEnv({});
  assert.deepEqual(Object.keys(d.switches).filter((k) => d.switches[k]), ['EVENTS', 'PING', 'VERSION']);
  assert.equal(d.socketPath, '/var/run/docker.sock');
  const start = socketProxyPolicyYaml(readSocketProxyEnv({ ALLOW_START: '1', POST: 'true' }));
  assert.doesNotMatch(start, /POST \/containers\/\{id\}\/start/);
  const started = socketProxyPolicyYaml(readSocketProxyEnv({ ALLOW_START: '1', POST: '1' }));
  assert.match(started, /# ALLOW_START=1\n {6}- "POST \/containers\/\{id\}\/start"\n/);
  assert.doesNotMatch(started, /POST \/containers\/\{id\}\/stop"/);
  // PING=0: dockward's implicit ping is denied explicitly, as HAProxy refuses it.
  assert.match(socketProxyPolicyYaml(readSocketProxyEnv({ PING: '0' })), /deny: \["HEAD \/_ping", "GET \/_ping"\]/);
  assert.throws(() => readSocketProxyEnv({ LOG_LEVEL: 'verbose' }), /LOG_LEVEL="verbose" is not a level/);
  assert.throws(() => readSocketProxyEnv({ SOCKET_PATH: 'docker:2375' }), /SOCKET_PATH="docker:2375" is not an absolute socket path/);
});

test('policy from-env prints a policy file that policy check and policy explain accept, deciding as HAProxy would', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dw-from-env-'));
  try {
    const env = { PATH: process.env.PATH ?? '', CONTAINERS: '1', EVENTS: '1', POST: '0', LOG_LEVEL: undefined };
    const printed = await dockward(['policy', 'from-env'], { env });
    assert.equal(printed.code, 0, printed.stderr);
    const file = join(dir, 'policy.yaml');
    await writeFile(file, printed.stdout);
    const check = await dockward(['policy', 'check', file]);
    assert.equal(check.code, 0, check.stdout + check.stderr);
    const explain = (method: string, target: string) => dockward(['policy', 'explain', '--policy', file, '--identity', 'socket-proxy', method, target]);
    assert.equal((await explain('GET', '/v1.41/containers/json')).code, 0);
    assert.equal((await explain('GET', '/v1.41/events')).code, 0);
    assert.equal((await explain('POST', '/v1.41/containers/create')).code, 1);
    assert.equal((await explain('GET', '/v1.41/images/json')).code, 1);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('on a host it listens on loopback unless told, and warns for any other address', () => {
  assert.deepEqual(socketProxyOptions({}, {}, false).options.listeners, [{ kind: 'plain', host: '127.0.0.1', port: 2375, identity: 'socket-proxy' }]);
  assert.deepEqual(socketProxyOptions({}, {}, false).warnings, []);
  assert.match(socketProxyOptions({ listen: '0.0.0.0:2375' }, {}, false).warnings.join(), /without TLS or authentication/);
  assert.equal((socketProxyOptions({}, {}, true).options.listeners[0] as { host: string }).host, '::');
  assert.equal((socketProxyOptions({}, { DISABLE_IPV6: 'True' }, true).options.listeners[0] as { host: string }).host, '0.0.0.0');
});

const COMPOSE = (post: number) => `services:
  socket-proxy:
    image: tecnativa/docker-socket-proxy
    environment:
      CONTAINERS: 1
      EVENTS: 1
      POST: ${post}
    volumes:
      - /var/run/docker.sock:/var/run/docker.sock:ro
  traefik:
    image: traefik:v3
    command: --providers.docker.endpoint=tcp://socket-proxy:2375
`;

/** The socket-proxy service's environment as the real compose reads the file. */
async function composeEnv(dir: string, post: number): Promise<Record<string, string>> {
  const file = join(dir, `compose-${post}.yaml`);
  await writeFile(file, COMPOSE(post));
  const r = await runDocker(['compose', '-f', file, 'config', '--format', 'json']);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { services: Record<string, { environment: Record<string, string> }> }).services['socket-proxy']!.environment;
}

interface Running {
  url: string;
  child: ChildProcess;
  stderr: () => string;
  /** The audit lines it wrote to stdout. */
  audit: () => string;
  stop(): Promise<void>;
}

async function startSocketProxy(engine: TestEngine, env: Record<string, string>): Promise<Running> {
  const port = await freePort();
  const child = spawn(process.execPath, [DOCKWARD_BIN, 'socket-proxy', '--listen', `127.0.0.1:${port}`, '--docker-socket', engine.socketPath], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`socket-proxy did not start: ${err}`)), 30_000);
    const check = () => {
      if (err.includes('listening on')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stderr!.on('data', check);
    child.once('exit', (code) => reject(new Error(`socket-proxy exited ${code}: ${err}`)));
  });
  return {
    url: `tcp://127.0.0.1:${port}`,
    child,
    stderr: () => err,
    audit: () => out,
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

describe('socket-proxy against a real dockerd', { skip }, () => {
  let engine: TestEngine;
  let dir: string;
  before(async () => {
    engine = await startTestEngine();
    dir = await mkdtemp(join(tmpdir(), 'dw-sp-'));
  });
  after(async () => {
    await engine?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('CONTAINERS=1 EVENTS=1 POST=0: a read-only client is served, writes are refused', async () => {
    const env = await composeEnv(dir, 0);
    assert.deepEqual(env, { CONTAINERS: '1', EVENTS: '1', POST: '0' });
    const proxy = await startSocketProxy(engine, env);
    try {
      const created = await engine.docker(['create', '--name', 'web', '--label', 'traefik.enable=true', TEST_IMAGE, 'sleep', '60']);
      assert.equal(created.code, 0, created.stderr);
      const http = (method: string, path: string) =>
        runProcess('curl', ['-sS', '-X', method, '-w', '\n%{http_code}', `${proxy.url.replace('tcp://', 'http://')}${path}`], { env: { PATH: process.env.PATH ?? '' } });
      // What Traefik's Docker provider asks: ping, version, the container list, inspect, events.
      for (const path of ['/_ping', '/version', '/containers/json?all=1&filters=%7B%22label%22%3A%5B%22traefik.enable%3Dtrue%22%5D%7D', '/containers/web/json']) {
        const r = await http('GET', path);
        assert.equal(r.stdout.split('\n').at(-1), '200', `${path}: ${r.stdout}`);
      }
      assert.match((await http('GET', '/containers/json?all=1')).stdout, /"\/web"/);
      for (const path of ['/info', '/images/json', '/networks', '/volumes']) assert.equal((await http('GET', path)).stdout.split('\n').at(-1), '403', path);
      for (const [method, path] of [['POST', '/containers/web/start'], ['POST', '/containers/create'], ['DELETE', '/containers/web'], ['POST', '/containers/web/stop']] as const) {
        const r = await http(method, path);
        assert.equal(r.stdout.split('\n').at(-1), '403', `${method} ${path}: ${r.stdout}`);
        assert.match(r.stdout, /"message":"dockward: identity \\"socket-proxy\\" may not/);
      }

      // The docker CLI as a watcher: ps works, run is refused, events stream.
      const cli = (args: string[]) => runDocker(['-H', proxy.url, ...args]);
      const ps = await cli(['ps', '-a', '--format', '{{.Names}}']);
      assert.equal(ps.code, 0, ps.stderr);
      assert.equal(ps.stdout.trim(), 'web');
      const run = await cli(['run', '--rm', TEST_IMAGE, 'true']);
      assert.notEqual(run.code, 0);
      assert.match(run.stderr, /may not POST \/containers\/create/);
      const events = spawn(DOCKER_CLI, ['-H', proxy.url, 'events', '--format', '{{.Action}} {{.Actor.Attributes.name}}'], { env: { PATH: process.env.PATH ?? '', HOME: dir, DOCKER_CONFIG: join(dir, 'cfg') } });
      let seen = '';
      events.stdout.on('data', (c: Buffer) => (seen += c.toString()));
      try {
        // A quiet stream first: nothing for a while must not end it.
        await new Promise((r) => setTimeout(r, 3000));
        assert.equal(events.exitCode, null, 'events ended while quiet');
        assert.equal((await engine.docker(['start', 'web'])).code, 0);
        const end = Date.now() + 30_000;
        while (!/start web/.test(seen) && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
        assert.match(seen, /start web/);
      } finally {
        events.kill('SIGINT');
      }
      await engine.docker(['rm', '-f', 'web']);
      const lines = proxy.audit().trim().split('\n').map((l) => JSON.parse(l) as { identity: string; route: string; decision: string; listener: string });
      assert.ok(lines.every((l) => l.identity === 'socket-proxy' && l.listener === proxy.url.replace('tcp://', 'http://')));
      assert.ok(lines.some((l) => l.route === 'POST /containers/create' && l.decision === 'deny'));
      assert.ok(lines.some((l) => l.route === 'GET /containers/json' && l.decision === 'allow'));
    } finally {
      await proxy.stop();
    }
  });

  test('POST=1: ordinary containers run, a privileged create or a bind of / is still refused', async () => {
    const env = await composeEnv(dir, 1);
    const proxy = await startSocketProxy(engine, env);
    try {
      const cli = (args: string[]) => runDocker(['-H', proxy.url, ...args]);
      const ok = await cli(['run', '--rm', TEST_IMAGE, 'echo', 'hello']);
      assert.equal(ok.code, 0, ok.stderr);
      assert.equal(ok.stdout.trim(), 'hello');
      const privileged = await cli(['create', '--privileged', TEST_IMAGE]);
      assert.notEqual(privileged.code, 0);
      assert.match(privileged.stderr, /DW_BODY_PRIVILEGED/);
      const root = await cli(['create', '-v', '/:/host', TEST_IMAGE]);
      assert.notEqual(root.code, 0);
      assert.match(root.stderr, /DW_BODY_/);
      // Still no section but CONTAINERS, EVENTS, PING and VERSION: POST opens methods, not sections.
      const pull = await cli(['volume', 'create', 'v1']);
      assert.notEqual(pull.code, 0);
      assert.match(pull.stderr, /may not POST \/volumes\/create/);
    } finally {
      await proxy.stop();
    }
  });

  test('a quiet events stream outlives every idle timeout of the listener', async () => {
    const setup = socketProxyOptions({ listen: '127.0.0.1:0', dockerSocket: engine.socketPath, auditLog: join(dir, 'quiet-audit.log') }, { EVENTS: '1' }, false);
    // Timeouts far below the quiet period: a stream they applied to would be cut.
    const gw = await startGateway({ ...setup.options, limits: { headersTimeoutMs: 1000, keepAliveTimeoutMs: 1000, requestTimeoutMs: 1500 }, log: () => undefined });
    try {
      const url = `http://127.0.0.1:${gw.listeners[0]!.port}`;
      const curl = spawn('curl', ['-sSN', `${url}/events`], { env: { PATH: process.env.PATH ?? '' } });
      let seen = '';
      curl.stdout.on('data', (c: Buffer) => (seen += c.toString()));
      try {
        await new Promise((r) => setTimeout(r, 4000));
        assert.equal(curl.exitCode, null, 'the quiet stream was ended');
        assert.equal((await engine.docker(['volume', 'create', 'quiet'])).code, 0);
        const end = Date.now() + 30_000;
        while (!seen.includes('"quiet"') && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
        assert.match(seen, /"Action":"create"/);
      } finally {
        curl.kill('SIGINT');
        await engine.docker(['volume', 'rm', 'quiet']);
      }
    } finally {
      await gw.close(1000);
    }
  });
});
