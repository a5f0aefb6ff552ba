import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { registerCommands } from '../../src/cli/commands.js';

test('a first argument naming an Object.prototype member is an unknown command, not a crash', async () => {
  for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
    const program = new Command('dockward').exitOverride().configureOutput({ writeErr: () => undefined });
    await registerCommands(program, [name]);
    assert.ok(program.commands.some((c) => c.name() === 'pki'), `${name}: every part is registered`);
    await assert.rejects(program.parseAsync(['node', 'dockward', name]), (e: { code?: string }) => e.code === 'commander.unknownCommand');
  }
});

test('a part name loads only that part', async () => {
  const program = new Command('dockward');
  await registerCommands(program, ['pki', 'list']);
  assert.deepEqual(program.commands.map((c) => c.name()), ['pki']);
});
