import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile, stat } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFilesAtomic } from '../../src/util/atomic-write.js';

function chattr(flag: string, path: string): boolean {
  try {
    execFileSync('chattr', [flag, path], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

test('refuses to overwrite without force and writes nothing', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dw-aw-'));
  try {
    await writeFile(join(dir, 'b'), 'old b');
    await assert.rejects(
      writeFilesAtomic([
        { path: join(dir, 'a'), data: 'new a', mode: 0o444 },
        { path: join(dir, 'b'), data: 'new b', mode: 0o444 },
      ]),
      (e: Error & { hint?: string }) => /\/b already exists$/.test(e.message) && /--force/.test(e.hint ?? ''),
    );
    assert.deepEqual((await readdir(dir)).sort(), ['b']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('files get their final mode and no temp file is left', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dw-aw-'));
  try {
    await writeFilesAtomic([{ path: join(dir, 'sub', 'key.pem'), data: 'k', mode: 0o400 }]);
    assert.equal((await stat(join(dir, 'sub', 'key.pem'))).mode & 0o777, 0o400);
    assert.equal((await stat(join(dir, 'sub'))).mode & 0o777, 0o700);
    assert.deepEqual(await readdir(join(dir, 'sub')), ['key.pem']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a rename that fails midway puts back the files already replaced', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'dw-aw-'));
  const b = join(dir, 'b');
  try {
    await writeFile(join(dir, 'a'), 'old a');
    await writeFile(b, 'old b');
    if (!chattr('+i', b)) return t.skip('this filesystem has no immutable attribute (chattr +i)');
    await assert.rejects(
      writeFilesAtomic(
        [
          { path: join(dir, 'a'), data: 'new a', mode: 0o644 },
          { path: join(dir, 'c'), data: 'new c', mode: 0o644 },
          { path: b, data: 'new b', mode: 0o644 },
        ],
        { force: true },
      ),
      /EPERM/,
    );
    assert.equal(await readFile(join(dir, 'a'), 'utf8'), 'old a');
    assert.equal(await readFile(b, 'utf8'), 'old b');
    assert.deepEqual((await readdir(dir)).sort(), ['a', 'b']);
  } finally {
    chattr('-i', b);
    await rm(dir, { recursive: true, force: true });
  }
});
