/**
 * What a bench run ran on, so that two runs can be compared: the same code gave the gateway 4x
 * the CPU per request on another machine of the same kind (issue #15), and figures without the
 * CPU model, the crypto library and the load around them cannot say why.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import { engineJson } from '../src/engine/engine-client.js';
import type { Stack } from './stack.js';
import { gatewayGc } from './stack.js';
import { cpuOf, peakRssMb } from './proc.js';
import { fmt } from './table.js';

function firstLine(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).split('\n')[0]!.trim();
  } catch {
    return 'not available';
  }
}

/** Where timers and crypto come from: a VM's clock source and CPU flags change both. */
function clockSource(): string {
  try {
    return readFileSync('/sys/devices/system/clocksource/clocksource0/current_clocksource', 'utf8').trim();
  } catch {
    return 'unknown';
  }
}

export async function printEnvironment(stack: Stack): Promise<void> {
  const c = cpus();
  const flags = /^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '';
  const crypto = ['aes', 'avx2', 'sha_ni', 'vaes'].filter((f) => flags.includes(` ${f}`)).join(' ');
  const version = await engineJson<{ Version: string; ApiVersion: string }>(stack.targets[0]!.ep, 'GET', '/version');
  console.log('\nenvironment');
  console.log(`  CPU        ${c[0]?.model ?? 'unknown'} × ${c.length} (crypto flags: ${crypto || 'none'}), clock source ${clockSource()}`);
  console.log(`  kernel     ${release()}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')} at the start`);
  console.log(`  node       ${process.version}, OpenSSL ${process.versions.openssl}`);
  console.log(`  dockerd    ${version.Version} (API ${version.ApiVersion}, engine "${stack.engine}")`);
  console.log(`  haproxy    ${stack.haproxyMissing ? `absent: ${stack.haproxyMissing}` : firstLine(process.env.BENCH_HAPROXY ?? 'haproxy', ['-v'])}`);
}

/** The gateway process's totals for the whole run: CPU split, GC, memory. */
export async function printGatewayTotals(stack: Stack): Promise<void> {
  const gw = stack.targets.find((t) => t.name === 'gateway')!;
  const cpu = cpuOf(gw.pid!);
  const gc = await gatewayGc(stack);
  console.log(
    `\ngateway process, whole run: CPU ${fmt(cpu.user, 1)} s user + ${fmt(cpu.system, 1)} s system; ` +
      `GC ${gc ? `${gc.count} collections (${gc.majorCount} full, ${fmt(gc.majorMs / 1000, 2)} s), ${fmt(gc.ms / 1000, 2)} s (${fmt((gc.ms / 10 / Math.max(0.01, cpu.user + cpu.system)), 1)}% of its CPU)` : 'not reported'}; ` +
      `peak RSS ${fmt(peakRssMb(gw.pid!), 1)} MB; load average now ${loadavg().map((l) => l.toFixed(2)).join(' ')}`,
  );
}
