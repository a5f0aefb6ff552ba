export {
  authorize,
  policyIdentityName,
  maxApiVersionOf,
  withApiVersion,
  type Decision,
  type DenyVerdict,
  type Identity,
  type Policy,
  type PolicyIdentity,
  type Verdict,
} from './authorize.js';
export { compileGlob } from './glob.js';
export { policyJsonSchema } from './policy-file.js';
export { DEFAULT_POLICY_YAML, defaultPolicy, loadPolicyFile, parsePolicy, POLICY_SCHEMA } from './policy-file.js';
export { PRESETS } from './presets.js';
export { inspectBody, type BodyOutcome } from './inspect-body.js';
export type { BodyFeatures } from './body-features.js';
export type { HostFacts } from './constraints/container.js';
export { ALWAYS_PROTECTED, resolveHostPath } from './constraints/host-paths.js';
export { checkQuery, queryTargetWithDefaults } from './check-query.js';
