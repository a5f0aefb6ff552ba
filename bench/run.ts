/**
 * `npm run bench [-- pki|gateway|commands|tenants|profile|audit …]`: each area's benchmark in turn; they print their own
 * tables and ratios. The gateway benches share one stack (dockerd, its TLS, HAProxy, the gateway).
 */
import { benchCommands } from './commands.js';
import { benchGateway } from './gateway.js';
import { benchPki } from './pki.js';
import { benchAudit } from './audit.js';
import { benchTenants } from './tenants.js';
import { benchProfile } from './profile.js';
import { printEnvironment, printGatewayTotals } from './environment.js';
import { startStack, type Stack } from './stack.js';

let stack: Stack | undefined;
async function withStack(run: (s: Stack) => Promise<void>): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.log('gateway bench: skipped, it starts a private dockerd and needs root');
    return;
  }
  if (!stack) {
    stack = await startStack();
    await printEnvironment(stack);
  }
  await run(stack);
}

const benches: [string, () => Promise<void>][] = [
  ['pki', benchPki],
  ['gateway', () => withStack(benchGateway)],
  ['commands', () => withStack(benchCommands)],
  ['tenants', () => withStack(benchTenants)],
  ['profile', () => withStack(benchProfile)],
  // Starts its own dockerd with 500 containers: not the shared stack.
  ['audit', benchAudit],
];
const only = process.argv.slice(2);

// A bench stopped with ^C or a timeout stops what it started (dockerd, HAProxy, the gateways).
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`bench: ${signal}, stopping what it started`);
    void (stack?.stop() ?? Promise.resolve()).finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  });
}

try {
  for (const [name, run] of benches) {
    if (only.length && !only.includes(name)) continue;
    try {
      await run();
    } catch (e) {
      process.exitCode = 1;
      console.error(`${name} bench failed: ${(e as Error).stack ?? e}`);
    }
  }
} finally {
  if (stack) {
    stack.summary.print(stack.targets.map((t) => t.name));
    await printGatewayTotals(stack).catch((e: Error) => console.error(`gateway totals: ${e.message}`));
    await stack.stop();
  }
}
