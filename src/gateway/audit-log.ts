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
import { closeSync, createWriteStream, fstatSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { DockwardError } from '../util/errors.js';

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
}

/** Where lines go. A failed write either throws (a file) or is reported to `onError` (a stream). */
interface Sink {
  write(text: string): void;
  close(): Promise<void>;
}

/** A regular file, appended synchronously. */
class FileSink implements Sink {
  private open = true;

  constructor(private readonly fd: number) {}

  write(text: string): void {
    const bytes = Buffer.from(text);
    let done = 0;
    try {
      // A regular file takes all of it or fails; the loop only covers a short write before ENOSPC.
      while (done < bytes.length) done += writeSync(this.fd, bytes, done);
    } catch (e) {
      // A torn line would glue itself to the next one once the disk has room: cut it off.
      if (done) {
        try {
          ftruncateSync(this.fd, fstatSync(this.fd).size - done);
        } catch {
          // The write error is the one worth reporting.
        }
      }
      throw e;
    }
  }

  async close(): Promise<void> {
    if (!this.open) return;
    this.open = false;
    closeSync(this.fd);
  }
}

/** stdout, a FIFO or a device: written as a stream, so a slow reader cannot stall the proxy. */
class StreamSink implements Sink {
  constructor(
    private readonly stream: NodeJS.WritableStream & { writableNeedDrain?: boolean; closed?: boolean },
    onError: (e: Error) => void,
    private readonly owned: boolean,
  ) {
    stream.on('error', onError);
  }

  write(text: string): void {
    this.stream.write(text);
  }

  async close(): Promise<void> {
    try {
      if (this.owned) {
        if (this.stream.closed) return;
        this.stream.end();
        await once(this.stream, 'close');
      } else if (this.stream.writableNeedDrain) {
        // Not ours to close (stdout): give a stalled reader a moment, but do not wait on it forever.
        await Promise.race([once(this.stream, 'drain'), sleep(2000)]);
      }
    } catch {
      // Already reported through onError.
    }
  }
}

export class AuditLog {
  private sink: Sink;
  private pending = '';

  /**
   * Why the log can no longer be written (a full disk, a closed stdout). Once set, the gateway
   * refuses every request: an unaudited request is one the gateway promised never to forward.
   */
  failure: string | undefined;

  /**
   * `path` '-' writes to stdout. The file is opened now so a bad path fails at start, not later.
   * `onFailure` hears about the first failed write.
   */
  constructor(
    private readonly path: string,
    private readonly onFailure: (message: string) => void = (m) => process.stderr.write(`dockward gateway: ${m}\n`),
  ) {
    this.sink = path === '-' ? new StreamSink(process.stdout, (e) => this.fail(e, this.sink), false) : this.openFile();
  }

  private get where(): string {
    return `audit log ${this.path === '-' ? 'stdout' : this.path}`;
  }

  private openFile(): Sink {
    let fd: number;
    try {
      fd = openSync(this.path, 'a', 0o600);
    } catch (e) {
      throw new DockwardError(
        `cannot open the audit log ${this.path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
        'pass a writable --audit-log FILE (or - for stdout)',
      );
    }
    if (fstatSync(fd).isFile()) return new FileSink(fd);
    const sink: Sink = new StreamSink(createWriteStream(this.path, { fd, flags: 'a' }), (e) => this.fail(e, sink), true);
    return sink;
  }

  private fail(e: Error, sink: Sink): void {
    // Lines of a file already rotated away: lost, which is worth saying, but the current file is fine.
    if (sink !== this.sink) return this.onFailure(`${this.where} (before it was reopened): ${e.message}`);
    if (this.failure) return;
    this.failure = e.message;
    this.onFailure(`${this.where}: ${e.message}; every request is refused until it can be written again (fix it, then SIGHUP)`);
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
      sink.write(text);
    } catch (e) {
      this.fail(e as Error, sink);
    }
  }

  /**
   * Opens the file anew (after logrotate moved it away, or once a failed disk has room again);
   * lines already gathered go to the old file. Throws when the file cannot be opened, keeping
   * the current state.
   */
  reopen(): void {
    if (this.path === '-') return;
    const next = this.openFile();
    const old = this.sink;
    const text = this.pending;
    this.pending = '';
    this.sink = next;
    this.failure = undefined;
    if (text) this.writeTo(old, text);
    void old.close();
  }

  /** Writes what is gathered, then closes the file (stdout is only given a moment to drain). */
  async close(): Promise<void> {
    this.flush();
    await this.sink.close();
  }
}

/** The path of a request target without its query string, bounded so a huge target cannot bloat the log. */
export function auditPath(target: string | undefined): string | null {
  if (!target) return null;
  const q = target.indexOf('?');
  const path = q === -1 ? target : target.slice(0, q);
  return path.length > 512 ? `${path.slice(0, 512)}…` : path;
}
