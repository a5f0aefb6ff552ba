/**
 * The systemd service for `dockward gateway`: restarted on failure, SIGHUP on reload (certificates,
 * CRL, policy and audit log are re-read), and confined — read-only system, no new privileges,
 * only CAP_CHOWN (Unix listeners handed to a group), only Unix and IP sockets. Node's JIT needs
 * writable executable memory, so MemoryDenyWriteExecute is the one hardening left out.
 */
import { realpathSync } from 'node:fs';
import { writeFileAtomic } from '../util/atomic-write.js';
import { UsageError } from '../util/errors.js';
import { GATEWAY_NODE_FLAGS } from '../gateway/node-flags.js';

export const UNIT_PATH = '/etc/systemd/system/dockward-gateway.service';

export interface UnitOptions {
  /** The node binary and dockward's main script: what ExecStart runs. */
  node: string;
  script: string;
  config: string;
}

/** systemd splits ExecStart on spaces and expands % and $: paths with them are refused, not escaped. */
function unitPath(p: string, what: string): string {
  if (!/^\/[\w./@+-]*$/.test(p)) throw new UsageError(`${what} ${JSON.stringify(p)} cannot be written into a unit as is`, 'use an absolute path of letters, digits and ./_@+-');
  return p;
}

export function gatewayUnit(o: UnitOptions): string {
  return `# Written by \`dockward gateway install-unit\`. Reload: systemctl reload dockward-gateway
[Unit]
Description=dockward gateway: authenticated, authorized and audited access to the Docker API
After=network-online.target docker.service docker.socket
Wants=network-online.target

[Service]
Type=simple
ExecStart=${unitPath(o.node, 'node')} ${GATEWAY_NODE_FLAGS.join(' ')} ${unitPath(o.script, 'the dockward script')} gateway --config ${unitPath(o.config, 'the config')}
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
RestartSec=2s
# Unix listeners go in /run/dockward, the audit log in /var/log/dockward; all else is read-only.
RuntimeDirectory=dockward
RuntimeDirectoryMode=0755
LogsDirectory=dockward
LogsDirectoryMode=0700
UMask=0077
NoNewPrivileges=yes
CapabilityBoundingSet=CAP_CHOWN
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
SystemCallArchitectures=native
SystemCallFilter=@system-service
LimitNOFILE=65536

[Install]
WantedBy=multi-user.target
`;
}

export async function installGatewayUnit(o: { output?: string; config: string; force?: boolean }): Promise<string> {
  const path = o.output ?? UNIT_PATH;
  // The paths this process runs from: the unit starts the same dockward.
  const text = gatewayUnit({ node: realpathSync(process.execPath), script: realpathSync(process.argv[1]!), config: o.config });
  await writeFileAtomic(path, text, 0o644, { force: o.force });
  return path;
}
