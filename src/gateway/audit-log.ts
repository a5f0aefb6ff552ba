/**
 * One JSON line per request. Lines of one turn of the event loop are gathered and leave at its
 * end in one write. A regular file is written synchronously: an append to the page cache takes a
 * few microseconds, while an asynchronous write costs a thread-pool hop and an extra event-loop
 * wake-up per batch (measured: /_ping +35% at c=1, +10-30% at c=16 through the gateway). It also
 * means a crash of the gateway loses at most the lines of the turn it died in, not a queue of
 * them (pino's file destinations are synchronous by default for the same reasons). Anything else
 * (stdout, a FIFO, a device) is written as a stream: a slow reader must not stall the proxy.
 *
 * Records carry only what is safe to keep: the route template and the path without its query
 * string (queries carry build args and registry URLs), never a header value or a body, so
 * X-Registry-Auth, X-Registry-Config, /auth bodies, secrets and container environments cannot
 * reach the file.
 */
import { closeSync, constants as fsConstants, createWriteStream, fstatSync, ftruncateSync, openSync, readSync, statSync, writeSync } from 'node:fs';
import net from 'node:net';
import type { Writable } from 'node:stream';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { DockwardError } from '../util/errors.js';
import type { BodyFeatures } from '../policy/index.js';

export type Decision = 'allow' | 'deny' | 'bad' | 'error' | 'refused';

export interface AuditRecord {
  time: string;
  identity: string | null;
  cn: string | null;
  serial: string | null;
  remote: string;
  listener: string;
  method: string | null;
  route: string | null;
  path: string | null;
  decision: Decision;
  rule: string | null;
  auditOnly?: boolean;
  status: number | null;
  bytesIn: number;
  bytesOut: number;
  durationMs: number;
  /** Hijacked exchanges (exec, attach, BuildKit session) are logged when the stream ends. */
  hijacked?: boolean;
  /** Why the gateway itself failed or refused (never client-supplied text beyond the path). */
  error?: string;
  /** A body refusal's stable code (DW_BODY_…) and the JSON path of the field it is about. */
  code?: string;
  field?: string;
  /** What the gateway changed in the body it forwarded (audit-only: would have changed). */
  mutations?: string[];
  /** Audit-only: why the body would have been refused. */
  wouldDeny?: string;
  /** A summary of refused connections (RefusalLog): how many more like the one named. */
  repeated?: number;
  /** Audit-only: what the body asked for in the rules' terms (policy/body-features.ts), for `policy suggest`. */
  features?: BodyFeatures;
}

/** A reader this far behind (a stalled pipe) counts as a failed log: requests are refused until it catches up. */
const MAX_BACKLOG_BYTES = 64 * 1024 * 1024;
/** How long closing waits for a stream's reader before giving up on it. */
const CLOSE_GRACE_MS = 2000;

/** Where lines go. A failed write either throws (a file) or is reported to `onError` (a stream). */
interface Sink {
  /** `written` runs once the text is with the kernel. */
  write(text: string, written: () => void): void;
  close(): Promise<void>;
  /** Bytes handed over but not yet written: a reader that does not keep up. */
  readonly backlog: number;
  /** A regular file, which logrotate moves away; a pipe or device has nothing to rotate. */
  readonly rotatable: boolean;
}

/** A regular file, appended synchronously. */
class FileSink implements Sink {
  private open = true;
  readonly backlog = 0;
  readonly rotatable = true;

  constructor(private readonly fd: number) {}

  write(text: string, written: () => void): void {
    // The fd number may already belong to another file.
    if (!this.open) throw new Error('the audit log is closed');
    const bytes = Buffer.from(text);
    let done = 0;
    try {
      // A regular file takes all of it or fails; the loop only covers a short write before ENOSPC.
      while (done < bytes.length) done += writeSync(this.fd, bytes, done);
    } catch (e) {
      // A torn line would glue itself to the next one once the disk has room: cut it off (the
      // tail check at the next open is the second line of defence).
      if (done) {
        try {
          ftruncateSync(this.fd, fstatSync(this.fd).size - done);
        } catch {
          // The write error is the one worth reporting.
        }
      }
      throw e;
    }
    written();
  }

  async close(): Promise<void> {
    if (!this.open) return;
    this.open = false;
    closeSync(this.fd);
  }
}

/** stdout, a FIFO or a device: written as a stream, so a slow reader cannot stall the proxy. */
class StreamSink implements Sink {
  readonly rotatable = false;

  constructor(
    private readonly stream: Writable,
    private readonly onError: (e: Error) => void,
    /** stdout is not ours to close. */
    private readonly owned: boolean,
  ) {
    stream.on('error', onError);
  }

  get backlog(): number {
    return this.stream.writableLength;
  }

  write(text: string, written: () => void): void {
    this.stream.write(text, (e) => e || written());
  }

  async close(): Promise<void> {
    const s = this.stream;
    const ac = new AbortController();
    const until = (event: string) => once(s, event, { signal: ac.signal }).catch(() => undefined);
    const grace = sleep(CLOSE_GRACE_MS, undefined, { signal: ac.signal }).catch(() => undefined);
    if (this.owned && !s.destroyed) {
      s.end();
      await Promise.race([until('close'), grace]);
      s.destroy();
    } else if (!this.owned && s.writableNeedDrain) {
      await Promise.race([until('drain'), grace]);
    }
    ac.abort();
    if (!this.owned) s.off('error', this.onError);
  }
}

type Failure = { why: string; until: 'reopened' | 'caught-up' };

export class AuditLog {
  private sink: Sink;
  private pending = '';
  private failed: Failure | undefined;

  /**
   * Why the log cannot be written (a full disk, a closed stdout, a reader far behind). While set,
   * the gateway refuses every request: an unaudited request is one the gateway promised never to
   * forward. A reader that caught up clears it; a failed write is cleared by the first write that
   * succeeds after a reopen (SIGHUP), not by the reopen itself: the disk may still be full.
   */
  get failure(): string | undefined {
    return this.failed?.why;
  }

  /**
   * `path` '-' writes to stdout. The file is opened now so a bad path fails at start, not later.
   * `report` hears about failures and recoveries (the gateway's operational log).
   */
  constructor(
    private readonly path: string,
    private readonly report: (message: string) => void = (m) => process.stderr.write(`dockward gateway: ${m}\n`),
  ) {
    this.sink = path === '-' ? this.streamSink(process.stdout, false) : this.openFile();
  }

  /** A stream sink whose errors are this log's failures (or, once replaced, only reported). */
  private streamSink(stream: Writable, owned: boolean): Sink {
    const sink: Sink = new StreamSink(stream, (e) => this.fail(e, sink), owned);
    return sink;
  }

  private get where(): string {
    return `audit log ${this.path === '-' ? 'stdout' : this.path}`;
  }

  private openFile(): Sink {
    const cannot = (e: unknown, hint = 'pass a writable --audit-log FILE (or - for stdout)') =>
      new DockwardError(`cannot open the audit log ${this.path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, hint);
    let fifo = false;
    try {
      fifo = statSync(this.path).isFIFO();
    } catch {
      // Not there yet: created below.
    }
    if (fifo) {
      let fd: number;
      try {
        // Non-blocking: a FIFO nobody reads would otherwise hang the open, and with it the gateway.
        fd = openSync(this.path, fsConstants.O_WRONLY | fsConstants.O_APPEND | fsConstants.O_NONBLOCK);
      } catch (e) {
        throw cannot(e, (e as NodeJS.ErrnoException).code === 'ENXIO' ? 'start the process that reads the FIFO first' : undefined);
      }
      return this.streamSink(new net.Socket({ fd, readable: false, writable: true }), true);
    }
    let fd: number;
    try {
      fd = openSync(this.path, 'a', 0o600);
    } catch (e) {
      throw cannot(e);
    }
    const st = fstatSync(fd);
    if (!st.isFile()) return this.streamSink(createWriteStream(this.path, { fd, flags: 'a' }), true);
    if (st.size > 0) this.endWithNewline(fd, st.size);
    return new FileSink(fd);
  }

  /** A file left ending mid-line (a crash, a failed cut) gets its line ended before ours follow. */
  private endWithNewline(fd: number, size: number): void {
    const last = Buffer.alloc(1);
    try {
      const r = openSync(this.path, 'r');
      try {
        readSync(r, last, 0, 1, size - 1);
      } finally {
        closeSync(r);
      }
      if (last[0] !== 0x0a) writeSync(fd, '\n');
    } catch (e) {
      this.report(`${this.where}: could not check how the file ends: ${(e as Error).message}`);
    }
  }

  private fail(e: Error, sink: Sink): void {
    // Lines of a file already rotated away: lost, which is worth saying, but the current file is fine.
    if (sink !== this.sink) return this.report(`${this.where} (before it was reopened): ${e.message}`);
    if (this.failed?.until === 'reopened') return;
    this.failed = { why: e.message, until: 'reopened' };
    const fix = this.path === '-' ? 'restart the gateway with a working stdout' : 'fix it, then SIGHUP';
    this.report(`${this.where}: ${e.message}; every request is refused until it can be written again (${fix})`);
  }

  write(rec: AuditRecord): void {
    if (!this.pending) setImmediate(this.flush);
    this.pending += `${JSON.stringify(rec)}\n`;
  }

  private readonly flush = (): void => {
    const text = this.pending;
    if (!text) return;
    this.pending = '';
    this.writeTo(this.sink, text);
  };

  private writeTo(sink: Sink, text: string): void {
    try {
      sink.write(text, () => this.written(sink));
    } catch (e) {
      return this.fail(e as Error, sink);
    }
    if (sink === this.sink && !this.failed && sink.backlog > MAX_BACKLOG_BYTES) {
      this.failed = { why: `its reader is more than ${MAX_BACKLOG_BYTES >> 20} MiB behind`, until: 'caught-up' };
      this.report(`${this.where}: ${this.failed.why}; every request is refused until it catches up`);
    }
  }

  /** A write reached the kernel: a failure this proves over is cleared. */
  private written(sink: Sink): void {
    if (sink !== this.sink || !this.failed) return;
    if (this.failed.until === 'caught-up' && sink.backlog > MAX_BACKLOG_BYTES / 2) return;
    this.failed = undefined;
    this.report(`${this.where}: written again; requests are served`);
  }

  /**
   * Opens the file anew (after logrotate moved it away, or once a failed disk has room again).
   * Lines already gathered go to the old file, unless that one failed. Throws when the file
   * cannot be opened, keeping the current state. A pipe or device that has not failed has
   * nothing to rotate and is kept (two streams on one pipe could interleave lines).
   */
  reopen(): void {
    if (this.path === '-' || (!this.sink.rotatable && !this.failed)) return;
    const next = this.openFile();
    const old = this.sink;
    const text = this.pending;
    this.pending = '';
    this.sink = next;
    // Still refused until a write to the new file succeeds.
    if (this.failed) this.failed = { why: this.failed.why, until: 'reopened' };
    if (text) this.writeTo(this.failed ? next : old, text);
    old.close().catch((e: Error) => this.report(`${this.where} (closing the previous file): ${e.message}`));
  }

  /** Writes what is gathered, then closes the file (a stream's reader gets a moment to take it). */
  async close(): Promise<void> {
    this.flush();
    await this.sink.close().catch((e: Error) => this.report(`${this.where} (closing): ${e.message}`));
  }
}

/** The path of a request target without its query string, bounded so a huge target cannot bloat the log. */
export function auditPath(target: string | undefined): string | null {
  if (!target) return null;
  const q = target.indexOf('?');
  const path = q === -1 ? target : target.slice(0, q);
  return path.length > 512 ? `${path.slice(0, 512)}…` : path;
}
