/**
 * The catalog of refusal codes a request body can get: stable names that the refusal message,
 * the audit line and `policy explain` carry, so a user can look one up and a pipeline can match it.
 */
export const BODY_CODES = {
  DW_BODY_PRIVILEGED: 'a privileged container or exec',
  DW_BODY_CAPABILITY: 'a kernel capability the role does not allow',
  DW_BODY_NAMESPACE: "a host namespace, or another container's",
  DW_BODY_DEVICE: 'host devices, device cgroup rules or device requests',
  DW_BODY_SECURITY_OPT: 'a security option that weakens confinement',
  DW_BODY_SYSTEM_PATHS: 'unmasked or writable /proc and /sys paths',
  DW_BODY_SYSCTL: 'a sysctl the role does not allow',
  DW_BODY_HOST_PATH: 'a host path outside the bind-mount allowlist, or a protected one',
  DW_BODY_MOUNT: 'a mount type or option the gateway does not allow',
  DW_BODY_VOLUME_DRIVER: 'a volume driver or driver option the role does not allow',
  DW_BODY_VOLUMES_FROM: "another container's volumes",
  DW_BODY_RUNTIME: 'an OCI runtime the role does not allow',
  DW_BODY_ANNOTATIONS: 'OCI annotations',
  DW_BODY_CGROUP_PARENT: 'a cgroup parent',
  DW_BODY_OOM_SCORE: 'an OOM score below the role\'s minimum',
  DW_BODY_LIMIT: "a resource limit above the role's bound",
  DW_BODY_ULIMIT: 'a ulimit the role does not allow',
  DW_BODY_LOG_DRIVER: 'a log driver the role does not allow',
  DW_BODY_PORT: 'a published port the role does not allow',
  DW_BODY_SERVICE_DEFAULTS: "a service request in an API version too old to keep the role's enforced defaults",
  DW_BODY_ROLLBACK: "a service rollback to a previous spec, which the gateway did not check",
  DW_BODY_BUILDKIT: 'a BuildKit build, whose API the gateway cannot read',
  DW_BODY_FETCH: 'a URL the daemon would fetch for the caller (build context, image import)',
  DW_BODY_REGISTRY: 'a registry the role may not have the daemon contact (pull, push, search, login)',
  DW_BODY_CHECKPOINT: 'a container started from a checkpoint, which the daemon reads from a host directory',
  DW_BODY_EXEC_USER: 'an exec user the role does not allow',
  DW_BODY_NETWORK: 'a network driver, driver option or address plan the role does not allow',
  DW_BODY_INVALID: 'a body the gateway cannot read exactly as dockerd would: malformed, unknown fields, trailing data, not JSON',
  DW_BODY_TOO_LARGE: 'a body over the bound the gateway reads (maxBodyBytes, 1 MiB by default)',
} as const;

export type BodyCode = keyof typeof BODY_CODES;
