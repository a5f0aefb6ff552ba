import { readFile } from 'node:fs/promises';
import lockfile from 'proper-lockfile';
import { writeFileAtomic } from '../util/atomic-write.js';
import { DockwardError } from '../util/errors.js';
import type { KeyType } from './keys.js';
import type { Profile } from './profiles.js';

export const REVOCATION_REASONS = [
  'unspecified',
  'keyCompromise',
  'cACompromise',
  'affiliationChanged',
  'superseded',
  'cessationOfOperation',
  'privilegeWithdrawn',
] as const;
export type RevocationReason = (typeof REVOCATION_REASONS)[number];

export interface InventoryEntry {
  serial: string;
  kind: Profile;
  cn: string;
  role?: string;
  dns: string[];
  ips: string[];
  keyType: KeyType;
  notBefore: string;
  notAfter: string;
  fingerprint: string;
  /** Where the certificate and its key were written. */
  dir: string;
  issuedAt: string;
  revoked?: { at: string; reason: RevocationReason };
  /** Serial of the certificate that replaced this one (`pki renew`). */
  supersededBy?: string;
}

export interface Inventory {
  version: 1;
  crlNumber: number;
  certs: InventoryEntry[];
}

export function emptyInventory(): Inventory {
  return { version: 1, crlNumber: 0, certs: [] };
}

export async function readInventory(path: string): Promise<Inventory> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new DockwardError(`no certificate inventory at ${path}`, 'run `dockward pki init` first, or pass --pki DIR');
    }
    throw e;
  }
  try {
    const inv = JSON.parse(text) as Inventory;
    if (inv.version !== 1 || !Array.isArray(inv.certs)) throw new Error('unexpected shape');
    return inv;
  } catch (e) {
    throw new DockwardError(`the inventory ${path} is corrupt (${(e as Error).message})`, 'restore it from a backup; it lists every issued certificate');
  }
}

export function writeInventory(path: string, inv: Inventory): Promise<void> {
  return writeFileAtomic(path, JSON.stringify(inv, null, 2) + '\n', 0o600, { force: true });
}

/**
 * Runs `fn` while holding the PKI's lock, so concurrent issuances (two CI jobs running
 * `pki client` at once) serialise their inventory updates instead of losing one.
 */
export async function withInventoryLock<T>(path: string, fn: (inv: Inventory) => Promise<T>): Promise<T> {
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(path, {
      stale: 15_000,
      retries: { retries: 200, factor: 1.2, minTimeout: 10, maxTimeout: 100 },
    });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new DockwardError(`no certificate inventory at ${path}`, 'run `dockward pki init` first, or pass --pki DIR');
    }
    throw new DockwardError(`could not lock ${path}: ${(e as Error).message}`, 'another dockward pki command may be stuck; retry');
  }
  try {
    return await fn(await readInventory(path));
  } finally {
    await release();
  }
}

/** The entries a NAME or SERIAL (a unique prefix of at least 8 hex digits, colons allowed) designates. */
export function findEntries(inv: Inventory, target: string): InventoryEntry[] {
  const hex = target.replace(/:/g, '').toLowerCase();
  if (/^[0-9a-f]{8,}$/.test(hex)) {
    const bySerial = inv.certs.filter((c) => c.serial.startsWith(hex));
    if (bySerial.length > 1) throw new DockwardError(`serial prefix ${target} matches ${bySerial.length} certificates`, 'give more digits');
    if (bySerial.length === 1) return bySerial;
  }
  return inv.certs.filter((c) => c.cn === target && c.kind !== 'ca');
}

export function statusOf(c: InventoryEntry, now = new Date()): 'revoked' | 'expired' | 'superseded' | 'valid' {
  if (c.revoked) return 'revoked';
  if (new Date(c.notAfter) < now) return 'expired';
  if (c.supersededBy) return 'superseded';
  return 'valid';
}
