/**
 * One JSON line per request. Lines go through a write stream: writes never block the proxy, the
 * stream queues them in memory when the disk is slower than the traffic (so nothing is dropped
 * under load), and `close()` waits until every queued line is on disk.
 *
 * Records carry only what is safe to keep: the route template and the path without its query
 * string (queries carry build args and registry URLs), never a header value or a body, so
 * X-Registry-Auth, X-Registry-Config, /auth bodies, secrets and container environments cannot
 * reach the file.
 */
import { closeSync, createWriteStream, openSync, type WriteStream } from 'node:fs';
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

export class AuditLog {
  private stream: WriteStream | NodeJS.WriteStream;
  private readonly ownsStream: boolean;

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
    this.ownsStream = path !== '-';
    this.stream = this.ownsStream ? this.open() : process.stdout;
    if (!this.ownsStream) this.stream.on('error', (e) => this.fail(this.stream, e));
  }

  private fail(stream: WriteStream | NodeJS.WriteStream, e: Error): void {
    const where = `audit log ${this.ownsStream ? this.path : 'stdout'}`;
    // Lines queued for a file already rotated away: lost, which is worth saying, but the current file is fine.
    if (stream !== this.stream) return this.onFailure(`${where} (before it was reopened): ${e.message}`);
    if (this.failure) return;
    this.failure = e.message;
    this.onFailure(`${where}: ${e.message}; every request is refused until it can be written again (fix it, then SIGHUP)`);
  }

  private open(): WriteStream {
    let fd: number;
    try {
      fd = openSync(this.path, 'a', 0o600);
    } catch (e) {
      throw new DockwardError(
        `cannot open the audit log ${this.path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
        'pass a writable --audit-log FILE (or - for stdout)',
      );
    }
    let stream: WriteStream;
    try {
      stream = createWriteStream(this.path, { fd, flags: 'a' });
    } catch (e) {
      closeSync(fd);
      throw e;
    }
    stream.on('error', (e) => this.fail(stream, e));
    return stream;
  }

  /**
   * Opens the file anew (after logrotate moved it away, or once a failed disk has room again);
   * lines already queued go to the old file. Throws when the file cannot be opened, keeping
   * the current state.
   */
  async reopen(): Promise<void> {
    if (!this.ownsStream) return;
    const next = this.open();
    if (this.corked) this.uncork();
    const old = this.stream as WriteStream;
    this.stream = next;
    this.failure = undefined;
    if (!old.destroyed) {
      old.end();
      // A failure to flush the old file was reported by fail(); the swap stands.
      await once(old, 'close').catch(() => undefined);
    }
  }

  private corked = false;

  /**
   * Lines written in the same turn of the event loop leave in one writev: one syscall for a
   * burst of requests instead of one (and a thread-pool hop) per line.
   */
  write(rec: AuditRecord): void {
    if (!this.corked) {
      this.corked = true;
      this.stream.cork();
      setImmediate(this.uncork);
    }
    this.stream.write(`${JSON.stringify(rec)}\n`);
  }

  private readonly uncork = () => {
    this.corked = false;
    this.stream.uncork();
  };

  async close(): Promise<void> {
    if (this.corked) this.uncork();
    if (!this.ownsStream) return;
    const s = this.stream as WriteStream;
    if (s.closed) return;
    s.end();
    await once(s, 'close');
  }
}

/** The path of a request target without its query string, bounded so a huge target cannot bloat the log. */
export function auditPath(target: string | undefined): string | null {
  if (!target) return null;
  const q = target.indexOf('?');
  const path = q === -1 ? target : target.slice(0, q);
  return path.length > 512 ? `${path.slice(0, 512)}…` : path;
}
