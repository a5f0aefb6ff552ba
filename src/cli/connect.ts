import type { Command } from 'commander';
import { connect, formatConnectResult } from '../client/connect.js';
import { parseTarget } from '../client/tls-probe.js';

export function registerConnect(program: Command): void {
  program
    .command('connect')
    .description('test a TLS connection to a Docker host with a client bundle, then configure the docker CLI (context or environment)')
    .argument('<address>', 'tcp://HOST:PORT')
    .requiredOption('--bundle <dir>', 'client bundle with ca.pem, cert.pem, key.pem')
    .option('--context <name>', 'write a docker CLI context with this name instead of printing environment lines')
    .option('--force', 'replace an existing context of that name')
    .option('--json', 'print the result as JSON')
    .action(async (address: string, opts: { bundle: string; context?: string; force?: boolean; json?: boolean }) => {
      const result = await connect({ target: parseTarget(address), bundleDir: opts.bundle, context: opts.context, force: opts.force });
      process.stdout.write(opts.json ? JSON.stringify(result, null, 2) + '\n' : formatConnectResult(result));
      process.exitCode = result.ok ? 0 : 1;
    });
}
