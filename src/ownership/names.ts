/**
 * Names are scoped per tenant: what tenant `alice` calls `web` is `alice.web` to dockerd, so two
 * tenants may both have a `web` (and both run compose project `app`, whose objects compose names
 * `app-web-1`, `app_default`, `app_data`) without either learning that the other's exists. The
 * gateway adds the prefix to every name a tenant sends and takes it off every name it answers.
 * Policy identity names of `scope: own` identities cannot contain a dot, so the prefix ends at the
 * first dot. A prefix only helps find an object: who owns it is always its owner label.
 */

/** dockerd's own rule for container and local volume names (moby daemon/names). */
const VALID_NAME = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** Policy identity names that can scope names (checked when the policy loads). */
export const TENANT_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_-]*$/;

export function daemonName(owner: string, name: string): string {
  return `${owner}.${name}`;
}

/** The tenant's name for a daemon name: its own prefix taken off, anything else as it is. */
export function tenantName(owner: string, name: string): string {
  const slash = name.startsWith('/') ? '/' : '';
  const bare = slash ? name.slice(1) : name;
  return bare.startsWith(`${owner}.`) ? slash + bare.slice(owner.length + 1) : name;
}

/** A container or volume name the tenant asked for, checked as dockerd checks it (undefined: valid). */
export function invalidName(kind: 'container' | 'volume', name: string): string | undefined {
  if (VALID_NAME.test(name)) return undefined;
  return kind === 'container'
    ? `Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`
    : `create ${name}: "${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`;
}
