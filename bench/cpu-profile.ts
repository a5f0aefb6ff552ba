/**
 * Reads a V8 .cpuprofile (what `node --cpu-prof` writes) and says where the time went: self time
 * by category (GC, native work outside JavaScript, TLS, sockets, HTTP, streams, dockward's own
 * files, the rest), the functions with the most self time, and dockward's functions with the
 * most time including what they call. Only samples inside a window count, so a gateway's start
 * and warm-up stay out of a load's figures.
 */
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  /** Sampled time in the window, idle excluded, ms. */
  busyMs: number;
  idleMs: number;
  /** Category → ms of self time, largest first. */
  categories: [string, number][];
  /** The functions with the most self time: label → ms. */
  topSelf: [string, number][];
  /** dockward's functions with the most time including their callees: label → ms. */
  topOwnTotal: [string, number][];
}

/** Where `url` belongs. `own` tells dockward's files (the build's dist/) from everything else. */
function categoryOf(url: string, own: (url: string) => string | undefined): string {
  const file = own(url);
  if (file) return `dockward ${file}`;
  if (url === 'node:_tls_wrap' || url === 'node:tls' || url.startsWith('node:internal/tls/') || url === 'node:_tls_common') return 'TLS (node:_tls_wrap, tls internals)';
  if (url === 'node:net' || url === 'node:internal/stream_base_commons') return 'sockets (node:net, stream_base_commons; TLS encryption runs in their native writes)';
  if (url.startsWith('node:_http_') || url.startsWith('node:internal/http')) return 'HTTP parsing and framing (node:_http_*, llhttp)';
  if (url.startsWith('node:internal/streams/') || url === 'node:stream') return 'streams (node:internal/streams/*)';
  if (url.includes('/node_modules/')) return 'dependencies (node_modules)';
  return 'other Node internals (events, timers, buffers, …)';
}

const SPECIAL: Record<string, string> = {
  '(garbage collector)': 'GC (garbage collector)',
  '(program)': '(program): native work outside JavaScript (libuv, socket reads, TLS decryption)',
};

/** `file` (the profile), counting only samples taken from `fromUs` to `toUs` (CLOCK_MONOTONIC µs, as process.hrtime). */
export function summarizeProfile(file: string, distDir: string, window?: { fromUs: number; toUs: number }): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const dist = `file://${distDir.endsWith('/') ? distDir : `${distDir}/`}`;
  const own = (url: string) => (url.startsWith(dist) ? url.slice(dist.length) : undefined);
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, ProfileNode>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n);

  // A native function (no URL) counts where it was called from: llhttp's execute() is HTTP
  // parsing, a TLS socket's writev() is encryption and the syscall.
  const categoryCache = new Map<number, string>();
  const category = (n: ProfileNode): string => {
    let c = categoryCache.get(n.id);
    if (c) return c;
    const special = SPECIAL[n.callFrame.functionName];
    if (special) c = special;
    else {
      let at: ProfileNode | undefined = n;
      while (at && !at.callFrame.url) at = parent.get(at.id);
      c = at ? categoryOf(at.callFrame.url, own) : 'other Node internals (events, timers, buffers, …)';
    }
    categoryCache.set(n.id, c);
    return c;
  };
  const label = (n: ProfileNode): string => {
    const f = n.callFrame;
    const name = f.functionName || '(anonymous)';
    if (f.url) return `${name} ${own(f.url) ?? f.url}:${f.lineNumber + 1}`;
    if (name.startsWith('(')) return name;
    let caller = parent.get(n.id);
    while (caller && !caller.callFrame.url) caller = parent.get(caller.id);
    return `${name} (native, from ${caller ? `${caller.callFrame.functionName || '(anonymous)'} ${own(caller.callFrame.url) ?? caller.callFrame.url}` : '?'})`;
  };

  const cats = new Map<string, number>();
  const self = new Map<string, number>();
  const ownTotal = new Map<string, number>();
  let busy = 0;
  let idle = 0;
  let t = p.startTime;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i]!;
    const next = i + 1 < p.samples.length ? t + p.timeDeltas[i + 1]! : p.endTime;
    if (window && (t < window.fromUs || t > window.toUs)) continue;
    const ms = Math.max(0, next - t) / 1000;
    const n = byId.get(p.samples[i]!)!;
    if (n.callFrame.functionName === '(idle)') {
      idle += ms;
      continue;
    }
    busy += ms;
    const c = category(n);
    cats.set(c, (cats.get(c) ?? 0) + ms);
    const l = label(n);
    self.set(l, (self.get(l) ?? 0) + ms);
    // Each of our functions on the stack once, however deep it recurses.
    const seen = new Set<string>();
    for (let at: ProfileNode | undefined = n; at; at = parent.get(at.id)) {
      if (!own(at.callFrame.url)) continue;
      const ol = label(at);
      if (seen.has(ol)) continue;
      seen.add(ol);
      ownTotal.set(ol, (ownTotal.get(ol) ?? 0) + ms);
    }
  }
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]);
  return { busyMs: busy, idleMs: idle, categories: sorted(cats), topSelf: sorted(self).slice(0, 10), topOwnTotal: sorted(ownTotal).slice(0, 10) };
}
