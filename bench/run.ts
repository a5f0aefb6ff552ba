/** `npm run bench`: each area's benchmark in turn; they print their own tables and ratios. */
import { benchGateway } from './gateway.js';
import { benchPki } from './pki.js';
import { benchAudit } from './audit.js';

const benches: [string, () => Promise<void>][] = [
  ['pki', benchPki],
  ['gateway', benchGateway],
  ['audit', benchAudit],
];
const only = process.argv.slice(2);

for (const [name, run] of benches) {
  if (only.length && !only.includes(name)) continue;
  try {
    await run();
  } catch (e) {
    process.exitCode = 1;
    console.error(`${name} bench failed: ${(e as Error).stack ?? e}`);
  }
}
