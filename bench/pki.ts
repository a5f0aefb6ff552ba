import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { initCa, issueServer, issueClient, type KeyType } from '../src/pki/index.js';

const BIN = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));

function timeMs(fn: () => void): number {
  const t = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

function dockwardRun(dir: string, key: string): number {
  return timeMs(() => {
    for (const args of [['init', '--key', key], ['server', '--host', 'localhost', '--ip', '127.0.0.1', '--key', key], ['client', 'admin', '--key', key]]) {
      const r = spawnSync(process.execPath, [BIN, 'pki', ...args, '--pki', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
      if (r.status !== 0) throw new Error(`dockward pki ${args[0]} failed: ${r.stderr}`);
    }
  });
}

/** The seeds' hand procedure (openssl: CA, server with SAN, client with clientAuth), same key type. */
function opensslRun(dir: string, key: string): number {
  const keyArgs = key.startsWith('rsa') ? ['-algorithm', 'RSA', '-pkeyopt', `rsa_keygen_bits:${key.slice(4)}`] : key === 'ed25519' ? ['-algorithm', 'ED25519'] : ['-algorithm', 'EC', '-pkeyopt', `ec_paramgen_curve:${key === 'ecdsa-p384' ? 'P-384' : 'P-256'}`];
  const o = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  return timeMs(() => {
    o(['genpkey', ...keyArgs, '-out', 'ca-key.pem']);
    o(['req', '-new', '-x509', '-days', '365', '-key', 'ca-key.pem', '-subj', '/CN=ca', '-out', 'ca.pem']);
    for (const [name, ext] of [['server', 'server.cnf'], ['client', 'client.cnf']]) {
      o(['genpkey', ...keyArgs, '-out', `${name}-key.pem`]);
      o(['req', '-new', '-key', `${name}-key.pem`, '-subj', `/CN=${name}`, '-out', `${name}.csr`]);
      o(['x509', '-req', '-days', '365', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-out', `${name}-cert.pem`, '-extfile', ext!]);
    }
  });
}

/** The same three operations in this process: what the PKI costs without Node's start-up. */
async function libraryRun(key: string): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'dw-bench-'));
  try {
    const t = process.hrtime.bigint();
    const keyType = key as KeyType;
    const quiet = { onWarning: () => undefined };
    await initCa({ dir, keyType, ...quiet });
    await issueServer({ dir, hosts: ['localhost'], ips: ['127.0.0.1'], keyType, ...quiet });
    await issueClient({ dir, name: 'admin', keyType, ...quiet });
    return Number(process.hrtime.bigint() - t) / 1e6;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

export async function benchPki(): Promise<void> {
  console.log('\n## PKI: `pki init` + `server` + `client` (three CLI processes), wall time, median of runs');
  console.log('baseline: the seeds\' openssl procedure for the same key type, measured in this run\n');
  console.log('key type     runs  dockward ms  in-process ms  openssl ms  ratio (dockward/openssl)');
  for (const [key, runs] of [['ecdsa-p256', 5], ['ed25519', 5], ['rsa-2048', 3], ['rsa-4096', 3]] as const) {
    const dw: number[] = [];
    const inProcess: number[] = [];
    const os: number[] = [];
    for (let i = 0; i < runs; i++) {
      const d1 = await mkdtemp(join(tmpdir(), 'dw-bench-'));
      const d2 = await mkdtemp(join(tmpdir(), 'dw-bench-'));
      try {
        dw.push(dockwardRun(d1, key));
        inProcess.push(await libraryRun(key));
        await writeFile(join(d2, 'server.cnf'), 'subjectAltName = DNS:localhost,IP:127.0.0.1\nextendedKeyUsage = serverAuth\n');
        await writeFile(join(d2, 'client.cnf'), 'extendedKeyUsage = clientAuth\n');
        os.push(opensslRun(d2, key));
      } finally {
        await rm(d1, { recursive: true, force: true });
        await rm(d2, { recursive: true, force: true });
      }
    }
    const a = median(dw);
    const b = median(os);
    console.log(`${key.padEnd(12)} ${String(runs).padStart(4)}  ${a.toFixed(0).padStart(11)}  ${median(inProcess).toFixed(0).padStart(13)}  ${b.toFixed(0).padStart(10)}  ${(a / b).toFixed(2).padStart(6)}`);
  }
  console.log('(in-process: the same three operations through the library, without three Node start-ups;');
  console.log(' RSA key generation time varies widely run to run: primes are searched at random.)');
}
