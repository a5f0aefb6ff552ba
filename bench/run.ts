/** `npm run bench`: each area's benchmark in turn; they print their own tables and ratios. */
import { benchGateway } from './gateway.js';

const benches: [string, () => Promise<void>][] = [['gateway', benchGateway]];

for (const [name, run] of benches) {
  try {
    await run();
  } catch (e) {
    process.exitCode = 1;
    console.error(`${name} bench failed: ${(e as Error).stack ?? e}`);
  }
}
