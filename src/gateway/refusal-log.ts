/**
 * Refused connections (failed or shed handshakes, refused certificates, connections over a
 * limit) cost a client nothing to repeat, and each used to write its own audit line: one client
 * could write gigabytes an hour, and with the disk full every request became a 503. Here the
 * first FULL_LINES refusals of a kind from a source in an interval are written as they are, and
 * further ones counted: at the end of the interval one line says "N more refusals of the same
 * kind from ADDR in the last T s". The log still says everything that happened, in a size
 * bounded by sources and kinds, not by connections: at most (FULL_LINES + 1) lines per interval
 * for each of MAX_KINDS_PER_SOURCE + 1 kinds of a source, and MAX_REFUSAL_KEYS + 1 keys in all.
 */
import type { AuditLog, AuditRecord } from './audit-log.js';
import { clientGroup } from './client-group.js';

/** Aggregation interval. */
export const REFUSAL_INTERVAL_MS = 60_000;
/** Refusals of one kind from one source written in full per interval, before they are counted. */
export const FULL_LINES = 8;
/**
 * Kinds tracked per source (a certificate's CN, serial and dates are the client's to vary);
 * past it, a source's other refusals are counted together.
 */
export const MAX_KINDS_PER_SOURCE = 16;
/** Keys tracked at once; past it, refusals from new sources are counted together. */
export const MAX_REFUSAL_KEYS = 64;

const OTHERS = 'other sources';

interface Tally {
  /** The first refusal's record: what the summary repeats. */
  first: AuditRecord;
  /** As named in the summary: the client, or OTHERS. */
  source: string;
  /** One of its source's MAX_KINDS_PER_SOURCE kinds. */
  ownKind: boolean;
  /** Lines written in full this interval. */
  written: number;
  /** Refusals counted since the last summary. */
  count: number;
}

/** The host part of an audit record's `remote` (`1.2.3.4:5`, `[::1]:5`). */
function hostOf(remote: string): string {
  const m = /^\[?(.*?)\]?:\d+$/.exec(remote);
  return m ? m[1]! : remote;
}

export class RefusalLog {
  private readonly tallies = new Map<string, Tally>();
  /** Per source: its refusals this interval, and its kinds tracked. */
  private readonly sources = new Map<string, { recent: number; kinds: number }>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly audit: AuditLog,
    private readonly intervalMs = REFUSAL_INTERVAL_MS,
  ) {
    this.timer = setInterval(() => this.summarize(), intervalMs).unref();
  }

  /** Writes a refused connection's line, or counts it once its kind from its source had its lines. */
  write(rec: AuditRecord): void {
    const source = clientGroup(hostOf(rec.remote));
    let src = this.sources.get(source);
    if (!src) this.sources.set(source, (src = { recent: 0, kinds: 0 }));
    src.recent++;
    const kind = `${source}|${rec.listener}|${rec.error ?? ''}|${rec.cn ?? ''}|${rec.serial ?? ''}`;
    let key = kind;
    let named = source;
    if (!this.tallies.has(kind)) {
      if (this.tallies.size >= MAX_REFUSAL_KEYS) [key, named] = [`*|${rec.listener}`, OTHERS];
      else if (src.kinds >= MAX_KINDS_PER_SOURCE) key = `${source}|${rec.listener}|*`;
    }
    let t = this.tallies.get(key);
    if (!t) {
      this.tallies.set(key, (t = { first: rec, source: named, ownKind: key === kind, written: 0, count: 0 }));
      if (t.ownKind) src.kinds++;
    }
    if (t.written < FULL_LINES) {
      t.written++;
      this.audit.write(rec);
    } else t.count++;
  }

  /** Refusals from this client (clientGroup) in the current interval. */
  recentFrom(source: string): number {
    return this.sources.get(source)?.recent ?? 0;
  }

  /** One line per source and kind with refusals counted; kinds quiet for a whole interval are forgotten. */
  summarize(): void {
    const seconds = Math.round(this.intervalMs / 1000);
    for (const [key, t] of this.tallies) {
      if (!t.written && !t.count) {
        this.tallies.delete(key);
        continue;
      }
      if (t.count) {
        const kind = key.endsWith('|*') || t.source === OTHERS ? 'of any kind' : 'of the same kind';
        this.audit.write({
          ...t.first,
          time: new Date().toISOString(),
          remote: t.source,
          durationMs: 0,
          repeated: t.count,
          error: `${t.count} more refusal${t.count === 1 ? '' : 's'} ${kind} from ${t.source} in the last ${seconds} s${kind === 'of any kind' ? '' : `: ${t.first.error ?? 'refused'}`}`,
          ...(kind === 'of any kind' ? { cn: null, serial: null } : {}),
        });
      }
      t.written = 0;
      t.count = 0;
    }
    this.sources.clear();
    // The kinds still tracked keep counting against their source's MAX_KINDS_PER_SOURCE.
    for (const t of this.tallies.values()) {
      if (t.ownKind) {
        const src = this.sources.get(t.source) ?? { recent: 0, kinds: 0 };
        src.kinds++;
        this.sources.set(t.source, src);
      }
    }
  }

  /** Writes what is counted (at shutdown, before the audit log closes). */
  close(): void {
    clearInterval(this.timer);
    this.summarize();
  }
}
