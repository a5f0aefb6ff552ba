import { InvalidArgumentError, type Command } from 'commander';
import { defaultPolicy, DEFAULT_POLICY_YAML, loadPolicyFile, policyJsonSchema, PRESETS, withApiVersion, type Identity, type Verdict } from '../policy/index.js';
import { explainRequest, routeListing, summarizePolicy, summaryLines } from '../policy/explain.js';
import { apiVersionNumber, NEWEST_API_VERSION } from '../api/versions.js';
import { readFile } from 'node:fs/promises';
import { buffer } from 'node:stream/consumers';
import { UsageError } from '../util/errors.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { suggestPolicy } from '../policy/suggest.js';
import { readSocketProxyEnv, socketProxyPolicyYaml } from '../socket-proxy/env.js';
import { collect, printJson, withJson } from './options.js';

interface ExplainFlags {
  policy?: string;
  cn?: string;
  ou?: string[];
  san?: string[];
  listener?: string;
  identity?: string;
  apiVersion: string;
  body?: string;
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

async function readBodyFile(path: string): Promise<Buffer> {
  try {
    return path === '-' ? await buffer(process.stdin) : await readFile(path);
  } catch (e) {
    throw new UsageError(`cannot read the body file ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, 'pass a JSON file, or - for standard input');
  }
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

  policy
    .command('schema')
    .description("print the policy file's JSON Schema (also in schema/policy.schema.json), for editors that complete and check YAML")
    .addHelpText('after', '\nExample:\n  dockward policy schema > policy.schema.json   # then: # yaml-language-server: $schema=./policy.schema.json')
    .action(() => printJson(policyJsonSchema()));

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
      .option('--body <file>', 'the request body (JSON) to check, e.g. of POST /containers/create; - for stdin')
      .addHelpText(
        'after',
        `
Exit status: 0 allowed (audit-only included), 1 refused (denied, or a request dockerd would not route), 2 usage error.

Examples:
  dockward policy explain --policy policy.yaml --cn ci GET /v1.51/containers/json
  dockward policy explain --policy policy.yaml --cn ci POST /v1.51/containers/create --body create.json
  echo '{"Image":"busybox","HostConfig":{"Privileged":true}}' | dockward policy explain --cn ci --policy policy.yaml POST /containers/create --body -`,
      ),
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
    const body = o.body === undefined ? undefined : await readBodyFile(o.body);
    const { line, ...explained } = await explainRequest(p, id, method, target, body);
    if (o.json) {
      // The checks carry compiled rules (functions, sets): say which check ran and for whom.
      const { body: bodyCheck, query, ...verdict } = explained.verdict as Verdict & { body?: { kind: string; role: string }; query?: { kind: string; role: string } };
      const check = bodyCheck ?? query;
      printJson({
        ...verdict,
        ...(check ? { check: check.kind, checkRole: check.role } : {}),
        ...(explained.refused ? { refused: explained.refused } : {}),
        ...(explained.body !== undefined ? { forwardedBody: explained.body, mutations: explained.mutations } : {}),
      });
    } else {
      process.stdout.write(`${line}\n`);
      if (explained.body !== undefined) process.stdout.write(`${JSON.stringify(explained.body, null, 2)}\n`);
    }
    if (explained.verdict.kind !== 'allow' || explained.refused) process.exitCode = 1;
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

  policy
    .command('suggest')
    .description('write the smallest policy that allows exactly what an identity did under an audit-only role, from the audit log')
    .requiredOption('--audit-log <file>', "the gateway's audit log")
    .requiredOption('--identity <name>', 'the identity whose requests to learn from')
    .option('--output <file>', 'write the policy to FILE (default: stdout)')
    .option('--force', 'overwrite --output if it exists')
    .addHelpText(
      'after',
      [
        '',
        'Example:',
        '  # policy.yaml: identity ci with a role { audit-only: true }; run the CI job through the gateway, then:',
        '  dockward policy suggest --audit-log /var/log/dockward/audit.log --identity ci --output ci-policy.yaml',
        '  dockward policy check ci-policy.yaml',
        '',
      ].join('\n'),
    )
    .action(async (o: { auditLog: string; identity: string; output?: string; force?: boolean }) => {
      let text: string;
      try {
        text = await readFile(o.auditLog, 'utf8');
      } catch (e) {
        throw new UsageError(`cannot read the audit log ${o.auditLog}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, 'pass the file the gateway writes with --audit-log');
      }
      const s = suggestPolicy(text, o.identity, o.auditLog);
      if (!o.output) return void process.stdout.write(s.yaml);
      await writeFileAtomic(o.output, s.yaml, 0o644, { force: o.force });
      process.stderr.write(`${o.output}: ${s.routes} routes from ${s.requests} requests of "${o.identity}"\n`);
    });

  policy
    .command('from-env')
    .description("print the policy equivalent to docker-socket-proxy's environment (CONTAINERS=1, POST=0, …), as `dockward socket-proxy` serves it")
    .addHelpText('after', '\nExample:\n  CONTAINERS=1 EVENTS=1 dockward policy from-env > policy.yaml   # then: dockward gateway --policy policy.yaml …\n')
    .action(() => {
      process.stdout.write(socketProxyPolicyYaml(readSocketProxyEnv(process.env)));
    });
}
