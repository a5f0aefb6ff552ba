/**
 * The policy file (YAML), validated against a schema and compiled into per-identity decision
 * tables.
 *
 *   version: 1
 *   identities:                 # first match wins
 *     - name: ci
 *       match: { cn: "ci-*" }   # cn, ou, san, listener: globs (* and ?); all given must match
 *       roles: [read-only, exec]
 *   roles:
 *     exec:
 *       allow: [preset:containers-read, "POST /containers/{id}/exec", "POST /exec/{id}/start"]
 *       deny: ["GET /containers/{id}/logs"]   # deny wins over allow, across all of the identity's roles
 *       audit-only: false       # true: allow everything, record what would have been denied
 *       scope: own              # own: the identity sees and touches only what it created (default: all)
 *
 * `cn` matches the client certificate's CN, `ou` any of its OUs, `san` any of its SANs with or
 * without the type prefix Node prints (`DNS:host` or `host`, `IP Address:10.0.0.1` or `10.0.0.1`,
 * `email:a@b`, `URI:spiffe://x`). `listener` matches the listener's
 * address (`tcp://127.0.0.1:2376`, `unix:///run/dockward/monitor.sock`) or, for a unix listener,
 * its fixed identity name (`dockward gateway --unix PATH --identity NAME`).
 *
 * Rules are `preset:NAME` or `METHOD /template` (METHOD may be `*`) with templates exactly as in
 * the route table. Any identity that has at least one role may also ping and read the version
 * (`HEAD|GET /_ping`, `GET /version`: the docker CLI does that before anything else) unless one of
 * its roles denies them; an identity that matches no entry gets nothing, not even a ping.
 */
import { readFile } from 'node:fs/promises';
import { UsageError } from '../util/errors.js';
import { parseYamlConfig, type YamlConfig } from '../util/yaml-config.js';
import { HTTP_METHODS, ROUTES, ROUTES_BY_NAME, ROUTES_BY_TEMPLATE, type Route } from '../api/routes.js';
import { engineApi } from '../api/request.js';
import { NEWEST_API_VERSION } from '../api/versions.js';
import { PRESETS } from './presets.js';
import { compileGlob } from './glob.js';
import { BODY_ROUTES } from '../api/bodies/canonical.js';
import {
  BUILD_RULES_SCHEMA,
  CONTAINER_RULES_SCHEMA,
  compileContainerRules,
  compileRoleRules,
  IMAGE_RULES_SCHEMA,
  NETWORK_RULES_SCHEMA,
  parseSize,
  type BuildRulesDoc,
  type ContainerRulesDoc,
  type ImageRulesDoc,
  type NetworkRulesDoc,
  type RoleRules,
} from './constraints/rules.js';
import { BUILDKIT_ROUTES, PING_ROUTES, QUERY_ROUTES, UNCONSTRAINABLE_ROUTES } from './query-routes.js';
import { resolveHostPath } from './constraints/host-paths.js';
import type { Decision, Identity, Policy, PolicyIdentity } from './authorize.js';
import { TENANT_NAME } from '../ownership/names.js';

interface MatchDoc {
  cn?: string;
  ou?: string;
  san?: string;
  listener?: string;
}
interface IdentityDoc {
  name: string;
  match: MatchDoc;
  roles: string[];
  description?: string;
}
interface RoleDoc {
  allow?: string[];
  deny?: string[];
  'audit-only'?: boolean;
  /** `own`: the identity's objects are its own (src/ownership); `all` (default): today's behaviour. */
  scope?: 'own' | 'all';
  /** The admin's: request bodies are forwarded unchecked. */
  unrestricted?: boolean;
  containers?: ContainerRulesDoc;
  build?: BuildRulesDoc;
  images?: ImageRulesDoc;
  networks?: NetworkRulesDoc;
  description?: string;
}
interface PolicyDoc {
  version: 1;
  identities: IdentityDoc[];
  roles?: Record<string, RoleDoc>;
}

const stringList = { type: 'array', items: { type: 'string', minLength: 1 } };
const glob = { type: 'string', minLength: 1 };

export const POLICY_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['version', 'identities'],
  properties: {
    version: { enum: [1] },
    identities: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'match', 'roles'],
        properties: {
          name: { type: 'string', minLength: 1 },
          description: { type: 'string' },
          match: {
            type: 'object',
            additionalProperties: false,
            minProperties: 1,
            properties: { cn: glob, ou: glob, san: glob, listener: glob },
          },
          roles: stringList,
        },
      },
    },
    roles: {
      type: 'object',
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        properties: {
          allow: stringList,
          deny: stringList,
          'audit-only': { type: 'boolean' },
          scope: {
            enum: ['own', 'all'],
            description:
              'own: an identity with this role sees and touches only the containers, execs, networks and volumes it created (names scoped to it, lists, events and prunes filtered); all (default): everything its rules allow',
          },
          unrestricted: { type: 'boolean' },
          containers: CONTAINER_RULES_SCHEMA,
          build: BUILD_RULES_SCHEMA,
          images: IMAGE_RULES_SCHEMA,
          networks: NETWORK_RULES_SCHEMA,
          description: { type: 'string' },
        },
      },
    },
  },
};

const IMPLICIT_ROUTES = ['HEAD /_ping', 'GET /_ping', 'GET /version'].map((n) => ROUTES_BY_NAME.get(n)!);
const IMPLICIT_RULE = 'implicit: any identity with a role may ping and read the version';

// The type prefix Node puts on each subjectAltName entry; `san: host.example` matches `DNS:host.example`.
const SAN_TYPE = /^(DNS|IP Address|email|URI|DirName|Registered ID|othername):/;

function compileMatch(m: MatchDoc): (id: Identity) => boolean {
  const tests: ((id: Identity) => boolean)[] = [];
  if (m.cn !== undefined) {
    const g = compileGlob(m.cn);
    tests.push((id) => id.cn !== undefined && g(id.cn));
  }
  if (m.ou !== undefined) {
    const g = compileGlob(m.ou);
    tests.push((id) => id.ou.some(g));
  }
  if (m.san !== undefined) {
    const g = compileGlob(m.san);
    tests.push((id) => id.sans.some((san) => g(san) || g(san.replace(SAN_TYPE, ''))));
  }
  if (m.listener !== undefined) {
    // The listener's address, or the fixed identity of a listener without certificates (a unix
    // socket); a certificate identity never matches by name here, whatever its CN.
    const g = compileGlob(m.listener);
    tests.push((id) => g(id.listener) || (id.cn === undefined && g(id.name)));
  }
  return (id) => tests.every((t) => t(id));
}

/** The routes one rule string names, or a one-line reason it names none. */
function resolveRule(rule: string): readonly Route[] | string {
  if (rule.startsWith('preset:')) {
    const preset = PRESETS.get(rule.slice('preset:'.length));
    return preset ?? `unknown preset "${rule}" (presets: ${[...PRESETS.keys()].join(', ')})`;
  }
  const m = /^(\S+) (\/\S*)$/.exec(rule);
  if (!m) return `rule "${rule}" is neither "preset:NAME" nor "METHOD /template" (e.g. "GET /containers/{id}/json")`;
  const [, method, template] = m as unknown as [string, string, string];
  if (method !== '*' && !(HTTP_METHODS as readonly string[]).includes(method)) {
    return `rule "${rule}" has unknown method "${method}" (use ${HTTP_METHODS.join(', ')} or *)`;
  }
  const routes = ROUTES_BY_TEMPLATE.get(template);
  if (!routes) return `rule "${rule}" names no Engine API route (templates look like "/containers/{id}/json", "/images/{name}/json")`;
  if (method === '*') return routes;
  const r = ROUTES_BY_NAME.get(rule);
  if (!r) return `rule "${rule}": ${template} has no ${method} route (it has ${routes.map((x) => x.method).join(', ')})`;
  return [r];
}

interface CompiledRole {
  name: string;
  allow: (string | undefined)[]; // by route index: the first allow entry naming the route
  deny: (string | undefined)[];
  auditOnly: boolean;
  scopeOwn: boolean;
  /** undefined: unrestricted (nothing in its requests is checked beyond the route). */
  rules: RoleRules | undefined;
}

function compileRules(cfg: YamlConfig<PolicyDoc>, name: string, doc: RoleDoc): RoleRules | undefined {
  const at = ['roles', name, 'containers'];
  if (doc.unrestricted) {
    for (const key of ['containers', 'build', 'images', 'networks'] as const) {
      if (doc[key]) cfg.fail(['roles', name, key], `role "${name}" is unrestricted: its "${key}" constraints would never apply (remove one of the two)`);
    }
    return undefined;
  }
  const c = doc.containers ?? {};
  for (const key of ['maxMemory', 'maxShmSize'] as const) {
    const v = c[key];
    if (v !== undefined) {
      try {
        parseSize(v);
      } catch (e) {
        cfg.fail([...at, key], (e as Error).message);
      }
    }
  }
  // Resolved now so a symlinked grant is compared with what the kernel will mount.
  const bindMounts = (c.bindMounts ?? []).map((b) => ({ path: resolveHostPath(b.path), readOnly: b.readOnly ?? false, subpaths: b.subpaths ?? b.readOnly ?? false }));
  return compileRoleRules(compileContainerRules(c, bindMounts), doc.build, doc.images, doc.networks);
}

function compileRole(cfg: YamlConfig<PolicyDoc>, name: string, doc: RoleDoc): CompiledRole {
  const table = (kind: 'allow' | 'deny'): (string | undefined)[] => {
    const out: (string | undefined)[] = new Array(ROUTES.length);
    (doc[kind] ?? []).forEach((rule, j) => {
      const routes = resolveRule(rule);
      if (typeof routes === 'string') cfg.fail(['roles', name, kind, j], routes);
      for (const r of routes) out[r.index] ??= rule;
    });
    return out;
  };
  if (doc.scope === 'own' && doc.unrestricted) {
    cfg.fail(['roles', name, 'scope'], `role "${name}" is unrestricted, so its bodies are not read: scope: own needs them to stamp the owner (remove one of the two)`);
  }
  return { name, allow: table('allow'), deny: table('deny'), auditOnly: doc['audit-only'] === true, scopeOwn: doc.scope === 'own', rules: compileRules(cfg, name, doc) };
}

function quoteList(names: string[]): string {
  return names.map((n) => JSON.stringify(n)).join(', ');
}

function decide(identity: string, roles: CompiledRole[], route: Route): Decision {
  const d = decideRoute(identity, roles, route);
  // The docker CLI up to 22.x picks BuildKit from /_ping's Builder-Version: tell it the truth.
  if (d.allow && PING_ROUTES.has(route.name) && roles.every((r) => r.rules && !r.rules.buildkit)) return { ...d, classicBuilder: true };
  return d;
}

function decideRoute(identity: string, roles: CompiledRole[], route: Route): Decision {
  const deny = (rule: string, why: string): Decision => ({
    allow: false,
    verdict: Object.freeze({
      kind: 'deny',
      status: 403,
      route: route.name,
      rule,
      message: `dockward: identity ${JSON.stringify(identity)} may not ${route.name} (${why})`,
    }),
  });
  let verdict: Decision | undefined;
  for (const role of roles) {
    const d = role.deny[route.index];
    if (d !== undefined) {
      verdict = deny(`role ${role.name}: deny ${d}`, `denied by role ${JSON.stringify(role.name)}: deny ${JSON.stringify(d)}`);
      break;
    }
  }
  const audit = roles.find((r) => r.auditOnly);
  // The role that allows a route also says what its request may hold; under an audit-only role
  // a request that breaks those rules is recorded, not refused.
  const bodyKind = BODY_ROUTES.get(route.name);
  const queryKind = QUERY_ROUTES.get(route.name);
  const checks = (role: CompiledRole) => {
    if (!role.rules) return {};
    const base = { rules: role.rules, role: role.name, auditOnly: audit !== undefined };
    return { ...(bodyKind ? { body: { kind: bodyKind, ...base } } : {}), ...(queryKind ? { query: { kind: queryKind, ...base } } : {}) };
  };
  if (!verdict) {
    for (const role of roles) {
      const a = role.allow[route.index];
      if (a === undefined) continue;
      const unconstrainable = UNCONSTRAINABLE_ROUTES.get(route.name);
      if (unconstrainable && role.rules) {
        verdict = deny(`role ${role.name}: unconstrainable route`, `${unconstrainable}; role ${JSON.stringify(role.name)} is not unrestricted`);
        break;
      }
      if (BUILDKIT_ROUTES.has(route.name) && role.rules && !role.rules.buildkit) {
        verdict = deny(
          `role ${role.name}: build.buildkit is off`,
          `BuildKit's API cannot be checked by the gateway and role ${JSON.stringify(role.name)} does not grant build.buildkit; set DOCKER_BUILDKIT=0 to use the classic builder`,
        );
        break;
      }
      return { allow: true, rule: `role ${role.name}: ${a}`, auditOnly: false, ...checks(role) };
    }
  }
  if (!verdict) {
    if (roles.length > 0 && IMPLICIT_ROUTES.includes(route)) return { allow: true, rule: IMPLICIT_RULE, auditOnly: false };
    const names = roles.map((r) => r.name);
    const why =
      names.length === 0
        ? 'it has no roles; default deny'
        : `no rule in role${names.length > 1 ? 's' : ''} ${quoteList(names)} allows it; default deny`;
    verdict = deny('default-deny', why);
  }
  if (audit && !verdict.allow) {
    return { allow: true, rule: `audit-only:${audit.name}`, auditOnly: true, wouldDeny: verdict.verdict.message, ...checks(audit) };
  }
  return verdict;
}

function compilePolicy(cfg: YamlConfig<PolicyDoc>, source: string, unmatchedReason: string): Policy {
  const doc = cfg.value;
  const roleDocs = doc.roles ?? {};
  const roles = new Map<string, CompiledRole>();
  for (const [name, r] of Object.entries(roleDocs)) roles.set(name, compileRole(cfg, name, r));
  const seen = new Set<string>();
  const identities: PolicyIdentity[] = doc.identities.map((idDoc, i) => {
    if (seen.has(idDoc.name)) cfg.fail(['identities', i, 'name'], `identity "${idDoc.name}" is defined twice`);
    seen.add(idDoc.name);
    const idRoles = idDoc.roles.map((name, j) => {
      const r = roles.get(name);
      if (!r) {
        const known = [...roles.keys()];
        cfg.fail(['identities', i, 'roles', j], `unknown role "${name}" (${known.length ? `roles: ${known.join(', ')}` : 'the policy defines no roles'})`);
      }
      return r!;
    });
    // One scope: own role makes the identity a tenant; failing closed, no other role widens it.
    const scope = idRoles.some((r) => r.scopeOwn) ? 'own' : 'all';
    if (scope === 'own') {
      if (!TENANT_NAME.test(idDoc.name)) {
        cfg.fail(['identities', i, 'name'], `identity "${idDoc.name}" has a scope: own role, so its name prefixes its objects' names: use letters, digits, "_" and "-" only`);
      }
      const open = idRoles.find((r) => !r.rules);
      if (open) cfg.fail(['identities', i, 'roles'], `identity "${idDoc.name}" has a scope: own role and the unrestricted role "${open.name}", whose bodies are not read: the owner could not be stamped`);
    }
    return {
      name: idDoc.name,
      scope,
      match: Object.entries(idDoc.match)
        .map(([k, v]) => `${k}=${String(v)}`)
        .join(' '),
      roles: idDoc.roles,
      matches: compileMatch(idDoc.match),
      decisions: ROUTES.map((route) => decide(idDoc.name, idRoles, route)),
    };
  });
  return {
    source,
    unmatchedReason,
    identities,
    api: engineApi(NEWEST_API_VERSION),
    identityCache: new WeakMap(),
  };
}

/**
 * The policy's JSON Schema as editors read it (yaml-language-server, VS Code):
 * `# yaml-language-server: $schema=…/policy.schema.json` at the top of a policy file.
 */
export function policyJsonSchema(): object {
  return { $schema: 'http://json-schema.org/draft-07/schema#', title: 'dockward gateway policy', ...POLICY_SCHEMA };
}

/** Parse and compile a policy; errors are UsageErrors naming `source` and the line. */
export function parsePolicy(text: string, source: string): Policy {
  const cfg = parseYamlConfig<PolicyDoc>(text, POLICY_SCHEMA, source);
  return compilePolicy(cfg, source, `no identity in policy ${source} matches it`);
}

export async function loadPolicyFile(path: string): Promise<Policy> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(
      code === 'ENOENT' ? `policy file ${path} does not exist` : `cannot read policy file ${path}: ${code ?? String(e)}`,
      'pass an existing policy file, or leave the option out to use the built-in default policy',
    );
  }
  return parsePolicy(text, path);
}

/** The built-in default policy, as YAML (also what `dockward up` documents as a starting point). */
export const DEFAULT_POLICY_YAML = `version: 1
identities:
  - name: admin
    match: { cn: admin }
    roles: [admin]
roles:
  admin:
    allow: [preset:all]
    unrestricted: true
`;

/** The identity whose certificate CN is "admin" may do everything; any other identity nothing. */
export function defaultPolicy(): Policy {
  const cfg = parseYamlConfig<PolicyDoc>(DEFAULT_POLICY_YAML, POLICY_SCHEMA, 'built-in default policy');
  return compilePolicy(cfg, 'built-in default policy', 'the built-in default policy only allows the identity with certificate CN "admin"');
}
