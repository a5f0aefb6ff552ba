import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { DockwardError, UsageError } from '../util/errors.js';

export const PASSPHRASE_ENV = 'DOCKWARD_CA_PASSPHRASE';
const MIN_LENGTH = 12;

/**
 * The CA passphrase, from the environment, a file, or a terminal prompt, never from argv
 * (argv is world-readable in /proc). `confirm` asks twice, for a new passphrase.
 */
export async function resolvePassphrase(opts: { file?: string; confirm?: boolean; interactive?: boolean }): Promise<string | undefined> {
  let value: string | undefined;
  if (opts.file) {
    try {
      value = (await readFile(opts.file, 'utf8')).replace(/\r?\n$/, '');
    } catch (e) {
      throw new UsageError(`cannot read the passphrase file ${opts.file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    if (!value) throw new UsageError(`the passphrase file ${opts.file} is empty`);
  } else if (process.env[PASSPHRASE_ENV]) {
    value = process.env[PASSPHRASE_ENV];
  } else if (opts.interactive !== false && process.stdin.isTTY && process.stderr.isTTY) {
    value = await prompt(opts.confirm ? 'New CA passphrase (empty for none): ' : 'CA passphrase: ');
    if (value && opts.confirm && (await prompt('Repeat it: ')) !== value) throw new UsageError('the passphrases do not match');
    if (!value) value = undefined;
  }
  if (value !== undefined && opts.confirm && value.length < MIN_LENGTH) {
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
