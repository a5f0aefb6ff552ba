import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { DockwardError, UsageError } from '../util/errors.js';

export const PASSPHRASE_ENV = 'DOCKWARD_CA_PASSPHRASE';
/** The new passphrase when `pki encrypt-key --change` replaces one. */
export const NEW_PASSPHRASE_ENV = 'DOCKWARD_CA_NEW_PASSPHRASE';
const MIN_LENGTH = 12;

export interface PassphraseSource {
  /** A file holding it (one line). */
  file?: string;
  /** The environment variable holding it. */
  env?: string;
  /** What the terminal prompt asks; `confirm` asks twice, for a new passphrase. */
  prompt?: string;
  confirm?: boolean;
  interactive?: boolean;
}

/**
 * A passphrase from a file, the environment or a terminal prompt, in that order, never from
 * argv (argv is world-readable in /proc). A new one (`confirm`) must be at least 12 characters.
 */
export async function resolvePassphrase(o: PassphraseSource): Promise<string | undefined> {
  const env = o.env ?? PASSPHRASE_ENV;
  let value: string | undefined;
  if (o.file) {
    try {
      value = (await readFile(o.file, 'utf8')).replace(/\r?\n$/, '');
    } catch (e) {
      throw new UsageError(`cannot read the passphrase file ${o.file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    if (!value) throw new UsageError(`the passphrase file ${o.file} is empty`);
  } else if (process.env[env]) {
    value = process.env[env];
  } else if (o.interactive !== false && process.stdin.isTTY && process.stderr.isTTY) {
    value = await prompt(o.prompt ?? (o.confirm ? 'New CA passphrase (empty for none): ' : 'CA passphrase: '));
    if (value && o.confirm && (await prompt('Repeat it: ')) !== value) throw new UsageError('the passphrases do not match');
    if (!value) value = undefined;
  }
  if (value !== undefined && o.confirm && value.length < MIN_LENGTH) {
    throw new UsageError(`the CA passphrase is shorter than ${MIN_LENGTH} characters`, 'choose a longer one');
  }
  return value;
}

async function prompt(question: string): Promise<string> {
  process.stderr.write(question);
  const muted = new Writable({ write: (_c, _e, cb) => cb() });
  const rl = createInterface({ input: process.stdin, output: muted, terminal: true });
  try {
    return await new Promise((resolve, reject) => {
      rl.once('line', resolve);
      rl.once('close', () => reject(new DockwardError('no passphrase entered')));
    });
  } finally {
    rl.close();
    process.stderr.write('\n');
  }
}
