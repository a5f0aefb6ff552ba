/**
 * Preloaded into the benchmarked gateway (node --import): counts garbage collections and their
 * pause time, and on SIGUSR2 writes the totals to DOCKWARD_BENCH_GC_FILE, so a bench run can say
 * how much of the gateway's CPU went to GC. Nothing of it is in the gateway itself. Full
 * (mark-compact) collections are counted apart: on streams they are what costs, triggered by the
 * socket buffers' external memory rather than by the JS heap.
 */
import process from 'node:process';
import { PerformanceObserver } from 'node:perf_hooks';
import { renameSync, writeFileSync } from 'node:fs';

const file = process.env.DOCKWARD_BENCH_GC_FILE;
if (file) {
  const MAJOR = 4; // perf_hooks.constants.NODE_PERFORMANCE_GC_MAJOR
  let count = 0;
  let ms = 0;
  let majorCount = 0;
  let majorMs = 0;
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      count++;
      ms += e.duration;
      if (e.detail?.kind === MAJOR) {
        majorCount++;
        majorMs += e.duration;
      }
    }
  }).observe({ entryTypes: ['gc'] });
  process.on('SIGUSR2', () => {
    writeFileSync(`${file}.tmp`, JSON.stringify({ count, ms, majorCount, majorMs }));
    renameSync(`${file}.tmp`, file);
  });
}
