import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initCa, issueClient, listCertificates, renew, revoke } from '../../src/pki/index.js';

const quiet = { onWarning: () => undefined };

test('a renewal never re-issues a certificate revoked while it was running', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dw-pki-'));
  try {
    await initCa({ dir, ...quiet });
    // The slow RSA-4096 key of the first renewal keeps the run busy while the second is revoked.
    await issueClient({ dir, name: 'slow', keyType: 'rsa-4096', days: 1, ...quiet });
    await issueClient({ dir, name: 'revoked-meanwhile', days: 1, ...quiet });
    const running = renew({ dir, expiringWithinMs: 2 * 86_400_000, ...quiet });
    await revoke({ dir, target: 'revoked-meanwhile', reason: 'keyCompromise', ...quiet });
    await assert.rejects(running, /revoked-meanwhile.*revoked/);
    const certs = await listCertificates(dir);
    assert.deepEqual(
      certs.filter((c) => c.cn === 'revoked-meanwhile').map((c) => c.status),
      ['revoked'],
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
