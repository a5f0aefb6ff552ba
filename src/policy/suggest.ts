/**
 * Learn mode: the smallest policy that allows exactly what one identity did under an audit-only
 * role — the routes it used and, from the audit lines' `features`, the container rules its
 * bodies needed — each commented with how often it was used. Only route names, capability,
 * namespace, sysctl and security-option names and host paths come from the log; nothing a
 * request carried in values (the audit log never has them).
 */
import type { BodyFeatures } from './body-features.js';
import { DockwardError } from '../util/errors.js';

/** Body refusals the suggested rules answer; others are listed for the user to decide. */
const LEARNT_CODES = new Set([
  'DW_BODY_PRIVILEGED',
  'DW_BODY_CAPABILITY',
  'DW_BODY_NAMESPACE',
  'DW_BODY_DEVICE',
  'DW_BODY_SECURITY_OPT',
  'DW_BODY_SYSCTL',
  'DW_BODY_HOST_PATH',
  'DW_BODY_VOLUMES_FROM',
  'DW_BODY_EXEC_USER',
]);

/** The fields of an audit line (gateway/audit-log.ts) that learning reads. */
interface AuditLine {
  time: string;
  identity: string | null;
  cn: string | null;
  decision: string;
  route: string | null;
  wouldDeny?: string;
  features?: BodyFeatures;
}

export interface Suggestion {
  yaml: string;
  requests: number;
  routes: number;
}

class Counter<K> extends Map<K, number> {
  add(k: K): void {
    this.set(k, (this.get(k) ?? 0) + 1);
  }
}

interface Seen {
  routes: Counter<string>;
  privileged: number;
  capabilities: Counter<string>;
  hostNamespaces: Counter<string>;
  shareNamespaces: number;
  /** path → [uses, read-only uses] */
  binds: Map<string, [number, number]>;
  devices: number;
  securityOptions: Counter<string>;
  sysctls: Counter<string>;
  volumesFrom: number;
  execPrivileged: number;
  execUsers: Counter<string>;
  unlearnt: Counter<string>;
}

function learn(seen: Seen, route: string, f: BodyFeatures): void {
  if (route === 'POST /containers/{id}/exec') {
    if (f.privileged) seen.execPrivileged++;
    if (f.execUser !== undefined) seen.execUsers.add(f.execUser);
    return;
  }
  if (f.privileged) seen.privileged++;
  for (const c of f.capabilities ?? []) seen.capabilities.add(c);
  for (const n of f.hostNamespaces ?? []) seen.hostNamespaces.add(n);
  if (f.shareNamespaces) seen.shareNamespaces++;
  for (const b of f.bindMounts ?? []) {
    const [n, ro] = seen.binds.get(b.path) ?? [0, 0];
    seen.binds.set(b.path, [n + 1, ro + (b.readOnly ? 1 : 0)]);
  }
  if (f.devices) seen.devices++;
  for (const o of f.securityOptions ?? []) seen.securityOptions.add(o);
  for (const s of f.sysctls ?? []) seen.sysctls.add(s);
  if (f.volumesFrom) seen.volumesFrom++;
}

const q = (s: string) => JSON.stringify(s);
const times = (n: number) => `${n} time${n === 1 ? '' : 's'}`;

function listRule(key: string, c: Counter<string>): string[] {
  if (!c.size) return [];
  return [`      ${key}:`, ...[...c].sort().map(([k, n]) => `        - ${q(k)}   # ${times(n)}`)];
}

export function suggestPolicy(auditLog: string, identity: string, source: string): Suggestion {
  const seen: Seen = {
    routes: new Counter(),
    privileged: 0,
    capabilities: new Counter(),
    hostNamespaces: new Counter(),
    shareNamespaces: 0,
    binds: new Map(),
    devices: 0,
    securityOptions: new Counter(),
    sysctls: new Counter(),
    volumesFrom: 0,
    execPrivileged: 0,
    execUsers: new Counter(),
    unlearnt: new Counter(),
  };
  let requests = 0;
  let cn: string | null = null;
  let first = '';
  let last = '';
  for (const line of auditLog.split('\n')) {
    if (!line.trim()) continue;
    let r: AuditLine;
    try {
      r = JSON.parse(line) as AuditLine;
    } catch {
      continue; // a line cut by a crash: the log repairs it, suggest skips it
    }
    if (r.identity !== identity || r.decision !== 'allow' || !r.route) continue;
    requests++;
    cn ??= r.cn;
    first ||= r.time;
    last = r.time;
    seen.routes.add(r.route);
    if (r.features) learn(seen, r.route, r.features);
    const code = /\((DW_BODY_[A-Z_]+), role /.exec(r.wouldDeny ?? '')?.[1];
    if (code && !LEARNT_CODES.has(code)) seen.unlearnt.add(`${r.route}: ${r.wouldDeny}`);
  }
  if (!requests) throw new DockwardError(`${source} has no allowed request of identity "${identity}"`, 'run the workload under an audit-only role first (roles: NAME: { audit-only: true }), then suggest from that log');

  const role = identity;
  const lines = [
    `# Suggested by \`dockward policy suggest\` from ${source}: ${requests} requests of identity ${q(identity)}, ${first} to ${last}.`,
    '# It allows exactly what was used; counts say how often. Review it before you enforce it.',
    'version: 1',
    'identities:',
    `  - name: ${q(identity)}`,
    `    match: ${cn ? `{ cn: ${q(cn)} }` : `{ listener: ${q(identity)} }`}`,
    `    roles: [${q(role)}]`,
    'roles:',
    `  ${q(role)}:`,
    '    allow:',
    ...[...seen.routes].sort(([a], [b]) => a.localeCompare(b)).map(([r, n]) => `      - ${q(r)}   # ${times(n)}`),
  ];
  const containers = [
    ...(seen.privileged ? [`      privileged: true   # ${times(seen.privileged)}`] : []),
    ...listRule('capabilities', seen.capabilities),
    ...listRule('hostNamespaces', seen.hostNamespaces),
    ...(seen.shareNamespaces ? [`      shareNamespaces: true   # ${times(seen.shareNamespaces)}`] : []),
    ...(seen.binds.size
      ? ['      bindMounts:', ...[...seen.binds].sort().map(([p, [n, ro]]) => `        - { path: ${q(p)}, readOnly: ${ro === n} }   # ${times(n)}${ro === n ? '' : `, ${n - ro} writable`}`)]
      : []),
    ...(seen.devices ? [`      devices: true   # ${times(seen.devices)}`] : []),
    ...listRule('securityOptions', seen.securityOptions),
    ...listRule('sysctls', seen.sysctls),
    ...(seen.volumesFrom ? [`      volumesFrom: true   # ${times(seen.volumesFrom)}`] : []),
    ...(seen.execPrivileged ? [`      execPrivileged: true   # ${times(seen.execPrivileged)}`] : []),
    // Only when exec was used: the default (any user) is no narrower than what was seen.
    ...listRule('execUsers', seen.execUsers),
  ];
  if (containers.length) lines.push('    containers:', ...containers);
  if (seen.routes.has('POST /session') || seen.routes.has('POST /grpc')) lines.push('    build: { buildkit: true }   # BuildKit sessions were used');
  if (seen.unlearnt.size) {
    lines.push('# Also seen, and refused by the policy above (grant them by hand if they are needed):');
    for (const [what, n] of seen.unlearnt) lines.push(`#   ${what.replace(/\n/g, ' ')} (${times(n)})`);
  }
  return { yaml: lines.join('\n') + '\n', requests, routes: seen.routes.size };
}
