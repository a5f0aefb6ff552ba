/**
 * One JSON line per request. Lines of one turn of the event loop are gathered and leave at its
 * end in one write. A file is written synchronously: an append to the page cache takes a few
 * microseconds, while an asynchronous write costs a thread-pool hop and an extra event-loop
 * wake-up per batch (measured: a third fewer /_ping requests per second through the gateway).
 * It also means a crash of the gateway loses at most the lines of the turn it died in, not a
 * queue of them (pino's file destinations are synchronous by default for the same reasons).
 * Standard output stays a stream: it may be a pipe whose reader is slow, and must not stall the proxy.
 *
 * Records carry only what is safe to keep: the route template and the path without its query
 * string (queries carry build args and registry URLs), never a header value or a body, so
 * X-Registry-Auth, X-Registry-Config, /auth bodies, secrets and container environments cannot
 * reach the file.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { once } from 'node:events';
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

/** Appends to the audit file; throws what the kernel said when it cannot. */
class FileSink {
  private fd: number | undefined;

  constructor(path: string) {
    try {
      this.fd = openSync(path, 'a', 0o600);
    } catch (e) {
      throw new DockwardError(
        `cannot open the audit log ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
        'pass a writable --audit-log FILE (or - for stdout)',
      );
    }
  }

  write(text: string): void {
    if (this.fd === undefined) throw new Error('the audit log is closed');
    const bytes = Buffer.from(text);
    // A regular file takes all of it or fails; the loop only covers a short write before ENOSPC.
    for (let done = 0; done < bytes.length; ) done += writeSync(this.fd, bytes, done);
  }

  close(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }
}

export class AuditLog {
  private sink: FileSink | undefined;
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
    if (path === '-') process.stdout.on('error', (e) => this.fail(e));
    else this.sink = new FileSink(path);
  }

  private get where(): string {
    return `audit log ${this.sink ? this.path : 'stdout'}`;
  }

  private fail(e: Error): void {
    if (this.failure) return;
    this.failure = e.message;
    this.onFailure(`${this.where}: ${this.failure}; every request is refused until it can be written again (fix it, then SIGHUP)`);
  }

  write(rec: AuditRecord): void {
    if (!this.pending) setImmediate(this.flush);
    this.pending += `${JSON.stringify(rec)}\n`;
  }

  private readonly flush = (): void => {
    const text = this.pending;
    if (!text) return;
    this.pending = '';
    if (!this.sink) {
      process.stdout.write(text);
      return;
    }
    try {
      this.sink.write(text);
    } catch (e) {
      this.fail(e as Error);
    }
  };

  /**
   * Opens the file anew (after logrotate moved it away, or once a failed disk has room again);
   * lines already gathered go to the old file. Throws when the file cannot be opened, keeping
   * the current state.
   */
  reopen(): void {
    if (!this.sink) return;
    const next = new FileSink(this.path);
    const old = this.sink;
    try {
      old.write(this.pending);
    } catch (e) {
      this.onFailure(`${this.where} (before it was reopened): ${(e as Error).message}`);
    }
    this.pending = '';
    old.close();
    this.sink = next;
    this.failure = undefined;
  }

  /** Writes what is gathered; the file is closed, stdout drained. */
  async close(): Promise<void> {
    this.flush();
    if (this.sink) return this.sink.close();
    if (process.stdout.writableNeedDrain) await once(process.stdout, 'drain');
  }
}

/** The path of a request target without its query string, bounded so a huge target cannot bloat the log. */
export function auditPath(target: string | undefined): string | null {
  if (!target) return null;
  const q = target.indexOf('?');
  const path = q === -1 ? target : target.slice(0, q);
  return path.length > 512 ? `${path.slice(0, 512)}…` : path;
}
