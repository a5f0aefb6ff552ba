import { InvalidArgumentError, type Command } from 'commander';
import { defaultPolicy, DEFAULT_POLICY_YAML, loadPolicyFile, PRESETS, withApiVersion, type Identity } from '../policy/index.js';
import { explainRequest, routeListing, summarizePolicy, summaryLines } from '../policy/explain.js';
import { apiVersionNumber, NEWEST_API_VERSION } from '../api/versions.js';
import { UsageError } from '../util/errors.js';
import { collect, printJson, withJson } from './options.js';

interface ExplainFlags {
  policy?: string;
  cn?: string;
  ou?: string[];
  san?: string[];
  listener?: string;
  identity?: string;
  apiVersion: string;
  json?: boolean;
}

function apiVersion(value: string): string {
  try {
    apiVersionNumber(value);
  } catch {
    throw new InvalidArgumentError('expected MAJOR.MINOR, e.g. 1.41');
  }
  return value;
}

function presetName(value: string): string {
  if (!PRESETS.has(value)) throw new InvalidArgumentError(`unknown preset (presets: ${[...PRESETS.keys()].join(', ')})`);
  return value;
}

export function registerPolicy(program: Command): void {
  const policy = program.command('policy').description('check gateway policy files and see what they allow');

  withJson(
    policy
      .command('check')
      .description('validate a policy file and summarize what each identity may do')
      .argument('<file>', 'policy file (YAML)'),
  ).action(async (file: string, o: { json?: boolean }) => {
    const p = await loadPolicyFile(file);
    if (o.json) printJson(summarizePolicy(p));
    else process.stdout.write(`${file}: valid\n${summaryLines(p).map((l) => `  ${l}\n`).join('')}`);
  });

  withJson(
    policy
      .command('explain')
      .description('show what the gateway would do with one request from one identity')
      .argument('<method>', 'HTTP method, e.g. GET')
      .argument('<target>', 'request target as the client sends it, e.g. /v1.41/containers/json')
      .option('--policy <file>', 'policy file (default: the built-in policy)')
      .option('--cn <cn>', "the client certificate's CN")
      .option('--ou <ou>', "the client certificate's OUs (repeatable)", collect)
      .option('--san <san>', "the client certificate's SANs, e.g. DNS:host (repeatable)", collect)
      .option('--listener <address>', 'the listener, e.g. tcp://0.0.0.0:2376 or unix:///run/dockward/agent.sock', 'tcp://0.0.0.0:2376')
      .option('--identity <name>', "a unix listener's fixed identity (instead of --cn)")
      .option('--api-version <version>', 'the API version dockerd speaks', apiVersion, NEWEST_API_VERSION)
      .addHelpText('after', '\nExit status: 0 allowed (audit-only included), 1 refused (denied, or a request dockerd would not route), 2 usage error.'),
  ).action(async (method: string, target: string, o: ExplainFlags) => {
    if ((o.cn === undefined) === (o.identity === undefined)) {
      throw new UsageError('give exactly one of --cn (a certificate identity) and --identity (a unix listener)');
    }
    const p = withApiVersion(o.policy ? await loadPolicyFile(o.policy) : defaultPolicy(), o.apiVersion);
    const id: Identity = {
      name: (o.cn ?? o.identity)!,
      ...(o.cn !== undefined ? { cn: o.cn } : {}),
      ou: o.ou ?? [],
      sans: o.san ?? [],
      listener: o.listener!,
    };
    const { verdict, line } = explainRequest(p, id, method, target);
    if (o.json) printJson(verdict);
    else process.stdout.write(`${line}\n`);
    if (verdict.kind !== 'allow') process.exitCode = 1;
  });

  withJson(
    policy
      .command('routes')
      .description('list the Engine API routes a rule can name, with the API versions that have each and the presets that contain it')
      .option('--preset <name>', 'only the routes of this preset', presetName),
  ).action((o: { preset?: string; json?: boolean }) => {
    const rows = routeListing(o.preset);
    if (o.json) printJson(rows);
    else process.stdout.write(rows.map((r) => `${r.route.padEnd(48)} ${r.versions.padEnd(10)} ${r.presets.join(', ')}\n`).join(''));
  });

  policy
    .command('default')
    .description('print the built-in default policy (a starting point for your own)')
    .action(() => {
      process.stdout.write(DEFAULT_POLICY_YAML);
    });
}
