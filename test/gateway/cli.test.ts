/**
 * `dockward up` and `dockward gateway` as the user runs them: child processes of the real CLI,
 * the printed client lines pasted into the docker CLI's environment, SIGHUP reload, SIGTERM stop
 * with the audit log flushed, and the errors for a missing daemon or a bad config file.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { engineSkipReason, runDocker, startTestEngine, TEST_IMAGE, type TestEngine } from '../harness/engine.js';
import { TEST_POLICY, until } from './fixture.js';
import { defaultAuditLog, ensurePki } from '../../src/gateway/up.js';
import { pkiLayout } from '../../src/pki/index.js';
import { resolveGatewayOptions } from '../../src/gateway/config.js';

const skip = engineSkipReason();
const MAIN = join(import.meta.dirname, '../../src/cli/main.ts');

interface Proc {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

function dockward(args: string[], env: Record<string, string> = {}): Proc {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** `export K=V` lines into an environment. */
function envOf(lines: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const m of lines.matchAll(/^export (\w+)=(.*)$/gm)) env[m[1]!] = m[2]!.replace(/^'(.*)'$/, '$1');
  return env;
}

describe('dockward up and dockward gateway', { skip, timeout: 300_000 }, () => {
  let engine: TestEngine;
  let dir: string;
  const procs: Proc[] = [];
  const start = (args: string[], env?: Record<string, string>) => {
    const p = dockward(args, env);
    procs.push(p);
    return p;
  };

  before(async () => {
    engine = await startTestEngine();
    dir = await mkdtemp(join(tmpdir(), 'dw-cli-gw-'));
  });
  after(async () => {
    for (const p of procs) p.child.kill('SIGKILL');
    await engine?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('up creates the PKI, prints the client lines that work, reloads on SIGHUP and stops on SIGTERM', async () => {
    const pki = join(dir, 'pki');
    const audit = join(dir, 'up-audit.log');
    const up = start(['up', '--pki', pki, '--listen', '127.0.0.1:0', '--docker-socket', engine.socketPath, '--audit-log', audit]);
    await until('the client lines', () => up.stdout().includes('DOCKER_CERT_PATH'));
    assert.match(up.stderr(), /created CA/);
    assert.match(up.stderr(), /created client bundle "admin"/);
    const env = envOf(up.stdout());
    assert.match(env.DOCKER_HOST!, /^tcp:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(env.DOCKER_TLS_VERIFY, '1');
    assert.equal(env.DOCKER_CERT_PATH, join(pki, 'clients', 'admin'));
    const r = await runDocker(['run', '--rm', '--network', 'none', TEST_IMAGE, 'echo', 'through up'], { env });
    assert.equal(r.stdout, 'through up\n', r.stderr);

    up.child.kill('SIGHUP');
    await until('the reload', () => up.stderr().includes('TLS certificates, CA and CRL reloaded'));
    assert.equal((await runDocker(['version'], { env })).code, 0);

    up.child.kill('SIGTERM');
    assert.equal(await up.exited, 0, up.stderr());
    const lines = (await readFile(audit, 'utf8')).trim().split('\n');
    assert.ok(lines.some((l) => l.includes('"route":"POST /containers/create"')), lines.join('\n'));

    // A second start keeps the PKI as it is.
    const again = start(['up', '--pki', pki, '--listen', '127.0.0.1:0', '--docker-socket', engine.socketPath, '--audit-log', audit]);
    await until('the client lines', () => again.stdout().includes('DOCKER_CERT_PATH'));
    assert.doesNotMatch(again.stderr(), /created/);
    again.child.kill('SIGINT');
    assert.equal(await again.exited, 0);
  });

  it('up points the client files at the address it bound, only once bound, and pki client follows it', async () => {
    const pki = join(dir, 'pki-bind');
    const adminEnv = join(pki, 'clients', 'admin', 'docker.env');
    const upOn = (listen: string) => start(['up', '--pki', pki, '--listen', listen, '--docker-socket', engine.socketPath, '--audit-log', join(dir, 'bind-audit.log')]);
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const taken = (blocker.address() as net.AddressInfo).port;
    try {
      const failed = upOn(`127.0.0.1:${taken}`);
      assert.equal(await failed.exited, 1);
      assert.match(failed.stderr(), new RegExp(`cannot listen on tcp://127\\.0\\.0\\.1:${taken}: EADDRINUSE`));
      assert.equal(existsSync(adminEnv), false, 'a client bundle pointing at a port the gateway never bound');
    } finally {
      blocker.close();
    }

    const first = upOn('127.0.0.1:0');
    await until('the client lines', () => first.stdout().includes('DOCKER_CERT_PATH'));
    const host = envOf(first.stdout()).DOCKER_HOST!;
    assert.equal(envOf(await readFile(adminEnv, 'utf8')).DOCKER_HOST, host);
    assert.equal((await runDocker(['version'], { env: envOf(await readFile(adminEnv, 'utf8')) })).code, 0);
    // A bundle issued later points where clients reach the gateway, not at the certificate's name on 2376.
    const client = start(['pki', 'client', 'ci', '--pki', pki]);
    assert.equal(await client.exited, 0, client.stderr());
    assert.equal(envOf(await readFile(join(pki, 'clients', 'ci', 'docker.env'), 'utf8')).DOCKER_HOST, host);
    first.child.kill('SIGTERM');
    assert.equal(await first.exited, 0);

    // Another address on the next start: the admin bundle follows.
    const second = upOn('127.0.0.1:0');
    await until('the client lines', () => second.stdout().includes('DOCKER_CERT_PATH'));
    const moved = envOf(second.stdout()).DOCKER_HOST!;
    assert.notEqual(moved, host);
    assert.equal(envOf(await readFile(adminEnv, 'utf8')).DOCKER_HOST, moved);
    assert.match(second.stderr(), /pointed .*docker\.env at tcp:\/\/127\.0\.0\.1:/);
    second.child.kill('SIGTERM');
    assert.equal(await second.exited, 0);
  });

  it('up appends its audit log to a file by default and says where, so stdout holds only the client lines', async () => {
    const state = join(dir, 'state');
    const p = start(['up', '--pki', join(dir, 'pki-quiet'), '--listen', '127.0.0.1:0', '--docker-socket', engine.socketPath], { XDG_STATE_HOME: state });
    await until('the client lines', () => p.stdout().includes('DOCKER_CERT_PATH'));
    const auditFile = join(state, 'dockward', 'audit.log');
    assert.match(p.stderr(), new RegExp(`audit log: ${auditFile.replace(/[.]/g, '\\.')}`));
    const env = envOf(p.stdout());
    for (let i = 0; i < 3; i++) assert.equal((await runDocker(['version'], { env })).code, 0);
    await until('the audit lines', async () => existsSync(auditFile) && (await readFile(auditFile, 'utf8')).includes('"route":"GET /version"'));
    p.child.kill('SIGTERM');
    assert.equal(await p.exited, 0);
    assert.deepEqual(p.stdout().trim().split('\n').map((l) => l.split('=')[0]), ['export DOCKER_HOST', 'export DOCKER_TLS_VERIFY', 'export DOCKER_CERT_PATH']);
  });

  it('up without a Docker daemon fails clearly and creates nothing', async () => {
    const pki = join(dir, 'pki-none');
    const p = start(['up', '--pki', pki, '--listen', '127.0.0.1:0', '--docker-socket', join(dir, 'no-docker.sock')]);
    assert.equal(await p.exited, 1);
    assert.match(p.stderr(), /^dockward: no Docker socket at .*no-docker\.sock \(start dockerd, or pass --docker-socket PATH/m);
    assert.equal(existsSync(pki), false);
  });

  it('gateway --config serves a Unix listener with its mode and policy', async () => {
    const policy = join(dir, 'policy.yaml');
    await writeFile(policy, TEST_POLICY);
    const sock = join(dir, 'cfg.sock');
    const cfg = join(dir, 'gateway.yaml');
    await writeFile(
      cfg,
      `dockerSocket: ${engine.socketPath}\nlisteners:\n  - unix: cfg.sock\n    identity: sidecar\n    mode: "0600"\npolicy: policy.yaml\nauditLog: cfg-audit.log\n`,
    );
    const gw = start(['gateway', '--config', cfg]);
    await until('the listener', () => gw.stderr().includes('listening on unix://'));
    assert.equal((await stat(sock)).mode & 0o777, 0o600);
    const r = await runDocker(['-H', `unix://${sock}`, 'exec', '-i', 'nope', 'cat']);
    // CLI 20.10 prints it as "Error: No such container", CLI 28 as "Error response from daemon: …".
    assert.match(r.stderr, /No such container: nope/);
    gw.child.kill('SIGTERM');
    assert.equal(await gw.exited, 0, gw.stderr());
    assert.equal(existsSync(sock), false);
    assert.match(await readFile(join(dir, 'cfg-audit.log'), 'utf8'), /"identity":"sidecar"/);
  });

  it('gateway --config names the line of an unknown key or a wrong type', async () => {
    const cfg = join(dir, 'bad.yaml');
    await writeFile(cfg, `dockerSocket: ${engine.socketPath}\nlisteners:\n  - unix: x.sock\n    identiti: sidecar\n`);
    const p = start(['gateway', '--config', cfg]);
    assert.equal(await p.exited, 2);
    assert.match(p.stderr(), /bad\.yaml:4: unknown key "identiti"/);
    await writeFile(cfg, `dockerSocket: ${engine.socketPath}\nmaxConnections: many\nlisteners:\n  - unix: x.sock\n    identity: sidecar\n`);
    const q = start(['gateway', '--config', cfg]);
    assert.equal(await q.exited, 2);
    assert.match(q.stderr(), /bad\.yaml:2: "maxConnections" must be an integer/);
  });
});

describe('dockward up PKI', () => {
  it('names the address given to --listen in the server certificate, since the client lines dial it', async () => {
    const d = await mkdtemp(join(tmpdir(), 'dw-up-pki-'));
    try {
      for (const [host, flag] of [['10.20.30.40', '-verify_ip'], ['docker.example.internal', '-verify_hostname']] as const) {
        const pki = join(d, host);
        await ensurePki(pki, { host });
        const l = pkiLayout(pki);
        const { stdout } = await promisify(execFile)('openssl', ['verify', '-CAfile', l.caCert, '-purpose', 'sslserver', flag, host, join(l.serverDir, 'server-cert.pem')]);
        assert.match(stdout, /: OK$/m, host);
      }
    } finally {
      await rm(d, { recursive: true, force: true });
    }
  });
});

describe('dockward up audit log', () => {
  it('goes to $XDG_STATE_HOME, else /var/log as root, else the user state directory', () => {
    assert.equal(defaultAuditLog({ XDG_STATE_HOME: '/s' }, 0), '/s/dockward/audit.log');
    assert.equal(defaultAuditLog({}, 0), '/var/log/dockward/audit.log');
    assert.match(defaultAuditLog({}, 1000), /\/\.local\/state\/dockward\/audit\.log$/);
  });
});

describe('gateway config file limits', () => {
  it('turns timeouts and connection limits into the gateway limits', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dw-cfg-'));
    try {
      const cfg = join(dir, 'gateway.yaml');
      await writeFile(
        cfg,
        'dockerSocket: /run/docker.sock\nlisteners:\n  - unix: gw.sock\n    identity: ci\n' +
          'timeouts: { handshakeSeconds: 5, keepAliveSeconds: 7 }\nmaxConnections: 300\nmaxHandshakesPerAddress: 16\n' +
          'maxConnectionsPerIdentity: 40\nmaxConnectionsPerCertificate: 20\nmaxStreamsPerIdentity: 10\nmaxStreamsPerCertificate: 5\n',
      );
      const opts = await resolveGatewayOptions({ config: cfg });
      assert.deepEqual(opts.limits, {
        handshakeTimeoutMs: 5000,
        keepAliveTimeoutMs: 7000,
        maxConnections: 300,
        maxHandshakesPerAddress: 16,
        maxConnectionsPerIdentity: 40,
        maxConnectionsPerCertificate: 20,
        maxStreamsPerIdentity: 10,
        maxStreamsPerCertificate: 5,
      });
      // A smaller maxConnections takes the fair share down with it; a share of all of it is refused.
      await writeFile(cfg, 'listeners:\n  - unix: gw.sock\n    identity: ci\nmaxConnections: 100\n');
      assert.deepEqual((await resolveGatewayOptions({ config: cfg })).limits, { maxConnections: 100, maxConnectionsPerIdentity: 25, maxConnectionsPerCertificate: 12 });
      await writeFile(cfg, 'listeners:\n  - unix: gw.sock\n    identity: ci\nmaxConnections: 100\nmaxConnectionsPerIdentity: 100\n');
      await assert.rejects(resolveGatewayOptions({ config: cfg }), /gateway\.yaml:5: .*maxConnectionsPerIdentity.* must be below maxConnections \(100\), or one identity can take every connection/);
      // A tenant's `docker load`: its bound, and where it is spooled (relative to the file).
      await writeFile(cfg, 'listeners:\n  - unix: gw.sock\n    identity: ci\nmaxLoadBytes: 1048576\nspoolDir: spool\n');
      const load = await resolveGatewayOptions({ config: cfg });
      assert.deepEqual([load.maxLoadBytes, load.spoolDir], [1048576, join(dir, 'spool')]);
      await writeFile(cfg, 'listeners:\n  - unix: gw.sock\n    identity: ci\nmaxLoadBytes: 0\n');
      await assert.rejects(resolveGatewayOptions({ config: cfg }), /gateway\.yaml:4: "maxLoadBytes" must be >= 1/);
      await writeFile(cfg, 'listeners:\n  - unix: gw.sock\n    identity: ci\nmaxHandshakesPerAddress: 0\n');
      await assert.rejects(resolveGatewayOptions({ config: cfg }), /gateway\.yaml:4: "maxHandshakesPerAddress" must be >= 1/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
