import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { allChecks, HOST_ONLY } from '../../src/audit/catalog.js';

/** The check catalog is what baselines, SARIF rules and CI gates refer to: every id unique, well-formed, and emitted by some check. */
const CHECKS_DIR = join(import.meta.dirname, '..', '..', 'src', 'audit', 'checks');
const schema = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'schema', 'audit-report.schema.json'), 'utf8')) as { definitions: { checkId: { pattern: string } } };

test('ids are unique and match the published schema', () => {
  const ids = allChecks().map((c) => c.id);
  assert.equal(new Set(ids).size, ids.length);
  const pattern = new RegExp(schema.definitions.checkId.pattern);
  assert.deepEqual(ids.filter((id) => !pattern.test(id)), []);
});

test('every check in the catalog is emitted by a check module, and every id a module emits is in the catalog', () => {
  const source = readdirSync(CHECKS_DIR).map((f) => readFileSync(join(CHECKS_DIR, f), 'utf8')).join('\n');
  const used = new Set([...source.matchAll(/'(DW-[A-Z-]+-\d{3})'/g)].map((m) => m[1]!));
  const catalog = new Set(allChecks().map((c) => c.id));
  assert.deepEqual([...catalog].filter((id) => !used.has(id)), []);
  assert.deepEqual([...used].filter((id) => !catalog.has(id)), []);
  assert.deepEqual(HOST_ONLY.filter((id) => !catalog.has(id)), []);
});

test('every check says what fixes it; where dockward has the fix, the command is named', () => {
  for (const c of allChecks()) assert.ok(c.remediation.length > 10, c.id);
  const named = allChecks().filter((c) => /`dockward [a-z]+/.test(c.remediation)).map((c) => c.id);
  for (const id of ['DW-DAEMON-TLS-001', 'DW-DAEMON-USERNS-001', 'DW-CTR-SOCKET-001', 'DW-TLS-EXPIRY-001']) assert.ok(named.includes(id), id);
});
