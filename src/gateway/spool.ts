/**
 * Request bodies held whole on disk before they are forwarded (a tenant's `docker load`, whose
 * manifest comes last in the archive; a constrained role's build context): each written to a file of its own in a private directory
 * (0700, made on first use), at most `maxBytes`, streamed so memory stays bounded. A file that
 * did not become a whole body is removed here; a whole one is the caller's to remove when its
 * exchange ends; the directory goes when the gateway stops. A gateway that could not stop (killed,
 * or its host lost power) leaves its directory behind: the next one on the same host to spool in
 * the same place removes every such directory whose gateway is gone.
 */
import { createWriteStream } from 'node:fs';
import { lstat, mkdtemp, readdir, rm } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { hostname } from 'node:os';
import { STREAM_BUFFER_BYTES } from './context.js';

export type Spooled =
  | { file: string; size: number }
  | { refused: 'too-large' | 'incomplete' | 'client-gone'; received: number }
  /** The gateway's own failure (a full disk): nothing the client did. */
  | { refused: 'spool-failed'; received: number; error: string };

const PREFIX = 'dockward-spool-';
/** `dockward-spool-PID@HOST-XXXXXX`: a pid says whether its gateway runs only on its own host (spoolDir may be shared). */
const LEFTOVER = new RegExp(`^${PREFIX}(\\d+)@(.+)-[A-Za-z0-9]{6}$`);

/** Whether a process with this pid exists (EPERM: it does, as another user's). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the spool directories in `parent` of gateways no longer running: those named after
 * this host and a pid no process has, and owned by us (another user's are not ours to remove). A
 * pid reused since only keeps a leftover a while longer. Cleaning is a courtesy: what fails here
 * is left as it is.
 */
async function removeLeftovers(parent: string): Promise<void> {
  const names = await readdir(parent).catch(() => [] as string[]);
  for (const name of names) {
    const m = LEFTOVER.exec(name);
    const pid = Number(m?.[1]);
    if (!pid || m![2] !== hostname() || pid === process.pid || alive(pid)) continue;
    const dir = join(parent, name);
    const st = await lstat(dir).catch(() => undefined);
    if (st?.isDirectory() && st.uid === process.getuid?.()) await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}

export class BodySpool {
  private dir: Promise<string> | undefined;

  constructor(
    /** Where the private directory is made (the OS's temporary directory by default). */
    private readonly parent: string,
    readonly maxBytes: number,
  ) {}

  private directory(): Promise<string> {
    // mkdtemp makes it 0700: other users cannot read what tenants load.
    this.dir ??= removeLeftovers(this.parent).then(() => mkdtemp(join(this.parent, `${PREFIX}${process.pid}@${hostname()}-`)));
    return this.dir;
  }

  async spool(req: IncomingMessage): Promise<Spooled> {
    let file: string;
    try {
      file = join(await this.directory(), randomUUID());
    } catch (e) {
      // A spool that cannot be made is the gateway's fault, not the client's: refused all the same.
      this.dir = undefined;
      throw e;
    }
    const out = createWriteStream(file, { flags: 'wx', mode: 0o600, highWaterMark: STREAM_BUFFER_BYTES });
    const result = await new Promise<Spooled>((resolve) => {
      let size = 0;
      let failed: Spooled | undefined;
      const fail = (f: Spooled) => {
        failed ??= f;
        req.off('data', count);
        req.unpipe(out);
        out.destroy();
      };
      const count = (c: Buffer) => {
        size += c.length;
        if (size > this.maxBytes) fail({ refused: 'too-large', received: size });
      };
      req.on('data', count);
      req.once('error', () => fail({ refused: 'incomplete', received: size }));
      req.once('close', () => {
        if (!req.complete) fail({ refused: 'client-gone', received: size });
      });
      out.once('error', (e: NodeJS.ErrnoException) => fail({ refused: 'spool-failed', received: size, error: e.code ?? e.message }));
      out.once('close', () => {
        req.off('data', count);
        resolve(failed ?? (req.complete ? { file, size } : { refused: 'incomplete', received: size }));
      });
      req.pipe(out);
    });
    if ('refused' in result) await rm(file, { force: true });
    return result;
  }

  /** Removes the directory and whatever is still in it. */
  async close(): Promise<void> {
    const dir = await this.dir?.catch(() => undefined);
    if (dir) await rm(dir, { recursive: true, force: true });
  }
}
