/**
 * HAProxy, the yardstick: Debian's haproxy terminating the same mTLS as dockerd and the gateway
 * (same CA, same server certificate, client certificates required) in front of the same Unix
 * socket, in HTTP mode with keep-alive on both sides, as one would deploy it. The bench installs
 * nothing: a missing haproxy is reported and the rest of the bench goes on.
 */
import { spawn, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect } from 'node:net';

export interface Haproxy {
  pid: number;
  stop(): Promise<void>;
}

const HAPROXY = process.env.BENCH_HAPROXY ?? 'haproxy';

export async function startHaproxy(o: { dir: string; port: number; serverDir: string; socketPath: string }): Promise<Haproxy> {
  try {
    execFileSync(HAPROXY, ['-v'], { stdio: 'ignore' });
  } catch {
    throw new Error('haproxy is not installed (apt-get install haproxy, or BENCH_HAPROXY=/path/to/haproxy)');
  }
  // HAProxy wants the certificate and its key in one file.
  const pem = join(o.dir, 'haproxy.pem');
  await writeFile(pem, readFileSync(join(o.serverDir, 'server-cert.pem'), 'utf8') + readFileSync(join(o.serverDir, 'server-key.pem'), 'utf8'), { mode: 0o600 });
  const cfg = join(o.dir, 'haproxy.cfg');
  // One thread: the gateway is one Node process (one JS thread), and the box has two cores.
  // Long timeouts: hijacked exec/attach streams and `logs -f` may be quiet for a while.
  await writeFile(
    cfg,
    `global
  nbthread 1
  maxconn 4096
  tune.ssl.default-dh-param 2048
defaults
  mode http
  option http-keep-alive
  timeout connect 5s
  timeout client 1h
  timeout server 1h
  timeout tunnel 1h
  timeout http-request 30s
frontend mtls
  bind 127.0.0.1:${o.port} ssl crt ${pem} ca-file ${join(o.serverDir, 'ca.pem')} verify required
  default_backend dockerd
backend dockerd
  http-reuse always
  server dockerd unix@${o.socketPath}
`,
  );
  const child = spawn(HAPROXY, ['-db', '-f', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  // Listening once a TCP connect succeeds.
  const deadline = Date.now() + 10_000;
  while (true) {
    if (child.exitCode !== null) throw new Error(`haproxy exited (${child.exitCode}): ${err.trim()}`);
    const up = await new Promise<boolean>((resolve) => {
      const s = connect(o.port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (up) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`haproxy did not listen on 127.0.0.1:${o.port}: ${err.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    pid: child.pid!,
    stop: async () => {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}
