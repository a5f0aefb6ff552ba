/** A process's CPU and memory from /proc, for what each proxy costs. */
import { readFileSync } from 'node:fs';

const CLK_TCK = 100;

export interface Cpu {
  user: number;
  system: number;
}

/** utime and stime of a process (all its threads) in seconds. */
export function cpuOf(pid: number): Cpu {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(f[11]) / CLK_TCK, system: Number(f[12]) / CLK_TCK };
}

export function cpuSince(pid: number, before: Cpu): Cpu {
  const now = cpuOf(pid);
  return { user: now.user - before.user, system: now.system - before.system };
}

export function peakRssMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}
