import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dockward } from '../harness/cli.js';

/** Bad input to `dockward audit`: one line saying what and what to do, exit 2; an unreachable daemon: exit 1. */
const cases: [string, string[], number, RegExp][] = [
  ['an address that is not one', ['--host', 'docker.example:2375'], 2, /^dockward: docker\.example:2375 is not a Docker host address \(give unix:\/\/\/PATH or tcp:\/\/HOST:PORT\)\n$/],
  ['a relative unix socket', ['--host', 'unix://docker.sock'], 2, /^dockward: unix:\/\/docker\.sock: a unix:\/\/ address needs an absolute path/],
  ['the same daemon twice', ['--host', 'unix:///x.sock', '--host', 'unix:///x.sock'], 2, /^dockward: unix:\/\/\/x\.sock is given twice \(name each daemon once\)\n$/],
  ['an unknown format', ['--format', 'xml'], 2, /^dockward: option '--format <format>' argument 'xml' is invalid\. Allowed choices are table, json, sarif, html\./],
  ['an unknown severity', ['--fail-on', 'severe'], 2, /argument 'severe' is invalid\. Allowed choices are critical, high, medium, low, info\./],
  ['a root that is not a directory', ['--root', '/nonexistent-root', '--host', 'unix:///nonexistent.sock'], 2, /^dockward: --root \/nonexistent-root is not a directory/],
  ['a bundle without its files', ['--host', 'tcp://127.0.0.1:1', '--bundle', '/nonexistent-bundle'], 1, /^dockward: cannot read \/nonexistent-bundle\/ca\.pem \(--bundle for tcp:\/\/127\.0\.0\.1:1\): ENOENT \(give a bundle with ca\.pem, cert\.pem and key\.pem/],
  ['--json with another --format', ['--json', '--format', 'html'], 2, /^dockward: option '--json' cannot be used with option '--format <format>'/],
  ['a daemon that is not there', ['--host', 'unix:///nonexistent.sock', '--format', 'json'], 1, /^dockward: cannot audit unix:\/\/\/nonexistent\.sock: connect ENOENT \/nonexistent\.sock\n$/],
];

for (const [name, args, code, stderr] of cases) {
  test(`audit: ${name}`, async () => {
    const res = await dockward(['audit', ...args]);
    assert.equal(res.code, code, res.stderr);
    assert.match(res.stderr, stderr);
  });
}

test('audit --write-baseline refuses to overwrite without --force', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dw-acli-'));
  try {
    const file = join(dir, 'b.json');
    const first = await dockward(['audit', '--host', 'unix:///nonexistent.sock', '--format', 'json', '--write-baseline', file]);
    assert.equal(first.code, 1);
    const again = await dockward(['audit', '--host', 'unix:///nonexistent.sock', '--format', 'json', '--write-baseline', file]);
    assert.match(again.stderr, /b\.json already exists \(pass --force to overwrite\)/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('audit --json is --format json, as elsewhere in dockward', async () => {
  const res = await dockward(['audit', '--host', 'unix:///nonexistent.sock', '--json']);
  assert.equal(res.code, 1);
  const r = JSON.parse(res.stdout) as { schemaVersion: number; targets: { error?: string }[] };
  assert.equal(r.schemaVersion, 1);
  assert.match(r.targets[0]!.error!, /ENOENT/);
});
