/**
 * `npm run bench -- profile`: where the gateway's CPU goes, under the loads whose cost issue #15
 * compares with HAProxy's. For each load a fresh gateway of this build runs under V8's sampling
 * profiler (`--cpu-prof`, written when it exits), takes a short warm-up and then the load; only
 * the samples of the load itself are counted. The .cpuprofile files are kept (Chrome DevTools or
 * speedscope open them) and their paths printed.
 */
import { mkdtemp } from 'node:fs/promises';
import { realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { summarizeProfile, type ProfileSummary } from './cpu-profile.js';
import { flood, seedContainers, SECONDS, withStreams } from './loads.js';
import { cpuOf, cpuSince } from './proc.js';
import { BUILD_DIST, gatewayGc, type Stack, type Target } from './stack.js';
import { fmt } from './table.js';

/** Sampling interval: V8's default of 1 ms gives too few samples for a few seconds of load. */
const INTERVAL_US = Number(process.env.BENCH_PROFILE_INTERVAL_US ?? 250);

const nowUs = () => Number(process.hrtime.bigint() / 1000n);

function print(title: string, file: string, s: ProfileSummary, perUnit: string): void {
  const pct = (ms: number) => `${fmt((ms / s.busyMs) * 100, 1).padStart(5)}%`;
  console.log(`\nprofile: ${title}`);
  console.log(`  ${file}`);
  console.log(`  sampled ${fmt(s.busyMs)} ms busy (${perUnit}), ${fmt(s.idleMs)} ms idle`);
  console.log('  self time by category');
  for (const [c, ms] of s.categories) console.log(`    ${pct(ms)} ${fmt(ms).padStart(6)} ms  ${c}`);
  console.log('  top 10 functions by self time');
  for (const [f, ms] of s.topSelf) console.log(`    ${pct(ms)} ${fmt(ms).padStart(6)} ms  ${f}`);
  console.log("  dockward's functions by time including their callees");
  for (const [f, ms] of s.topOwnTotal) console.log(`    ${pct(ms)} ${fmt(ms).padStart(6)} ms  ${f}`);
}

export async function benchProfile(stack: Stack): Promise<void> {
  const dir = process.env.BENCH_PROFILE_DIR ?? (await mkdtemp(join(tmpdir(), 'dockward-profile-')));
  const dist = realpathSync(BUILD_DIST);
  await seedContainers(stack);
  console.log(`\nthe gateway under V8's CPU profiler (sampling every ${INTERVAL_US} µs, which itself costs CPU: compare splits, not absolute times)`);

  /** Runs `load` against a fresh profiled gateway; returns the units it moved and prints the profile. */
  const profiled = async (name: string, title: string, load: (t: Target) => Promise<{ units: number; unit: string }>): Promise<void> => {
    const gwName = `profile-${name}`;
    const g = await stack.extraGateway(gwName, ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${name}.cpuprofile`, `--cpu-prof-interval=${INTERVAL_US}`]);
    const measure = async () => {
      // JIT warm-up, as in the gateway bench: the profile is of a gateway that has run a while.
      await flood(stack, g.target, '/_ping', 16, 1);
      const pid = g.target.pid!;
      const gcBefore = await gatewayGc(stack, gwName, pid);
      const before = cpuOf(pid);
      const fromUs = nowUs();
      const done = await load(g.target);
      const window = { fromUs, toUs: nowUs() };
      const cpu = cpuSince(pid, before);
      const gcAfter = await gatewayGc(stack, gwName, pid);
      const gc = gcBefore && gcAfter ? `; GC ${gcAfter.count - gcBefore.count} collections, ${gcAfter.majorCount - gcBefore.majorCount} of them full, ${fmt(gcAfter.ms - gcBefore.ms)} ms` : '';
      return { done, window, line: `/proc CPU ${fmt(cpu.user, 2)} s user + ${fmt(cpu.system, 2)} s system${gc}` };
    };
    // The profile is written when the gateway exits.
    const { done, window, line } = await measure().finally(() => g.stop());
    const file = join(dir, `${name}.cpuprofile`);
    const s = summarizeProfile(file, dist, window);
    const per = done.unit === 'request' ? `${fmt((s.busyMs / done.units) * 1000)} µs per request` : `${fmt(s.busyMs / done.units, 2)} ms per MB`;
    print(`${title}; ${line}`, file, s, per);
  };

  await profiled('containers-json', `GET /containers/json?all=1, c=16, ${SECONDS} s`, async (t) => {
    const r = await flood(stack, t, '/containers/json?all=1', 16);
    return { units: r.requests.total, unit: 'request' };
  });
  await withStreams(stack, async (loads) => {
    for (const s of loads) {
      const name = s.name.replace(/ \d+ MB$/, '').replaceAll(' ', '-');
      await profiled(name, s.name, async (t) => {
        const r = await s.run(t);
        return { units: s.mb, unit: `MB (${fmt(r.mbps)} MB/s)` };
      });
    }
  });
}
