/**
 * Preloaded into the benchmarked gateway (node --import): counts garbage collections and their
 * pause time, and on SIGUSR2 writes the totals to DOCKWARD_BENCH_GC_FILE, so a bench run can say
 * how much of the gateway's CPU went to GC. Nothing of it is in the gateway itself.
 */
import process from 'node:process';
import { PerformanceObserver } from 'node:perf_hooks';
import { renameSync, writeFileSync } from 'node:fs';

const file = process.env.DOCKWARD_BENCH_GC_FILE;
if (file) {
  let count = 0;
  let ms = 0;
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      count++;
      ms += e.duration;
    }
  }).observe({ entryTypes: ['gc'] });
  process.on('SIGUSR2', () => {
    writeFileSync(`${file}.tmp`, JSON.stringify({ count, ms }));
    renameSync(`${file}.tmp`, file);
  });
}
