/** The query stage of a decision: the parameters of a query route, judged by the role's rules. */
import type { QueryCheck } from './authorize.js';
import type { BodyRefusal } from './constraints/container.js';
import { buildTargetWithDefaults, checkBuildQuery, checkImageCreateQuery, checkServiceUpdateQuery, checkPluginRemoteQuery, checkImageRegistry, checkContainerStartQuery } from './constraints/query.js';

/** `target` is the canonical forward target, `param` the decoded route parameter: what is checked is what dockerd reads. */
export function checkQuery(check: QueryCheck, target: string, param?: string): BodyRefusal | undefined {
  const q = target.indexOf('?');
  const params = new URLSearchParams(q === -1 ? '' : target.slice(q + 1));
  switch (check.kind) {
    case 'build':
      return checkBuildQuery(params, check.rules);
    case 'image-create':
      return checkImageCreateQuery(params, check.rules);
    case 'service-update':
      return checkServiceUpdateQuery(params);
    case 'plugin-privileges':
      return checkPluginRemoteQuery(params, check.rules);
    case 'image-registry':
      return checkImageRegistry('name', param ?? '', check.rules);
    case 'image-search':
      return checkImageRegistry('term', params.get('term') ?? '', check.rules);
    case 'container-start':
      return checkContainerStartQuery(params);
  }
}

/** The forward target of an allowed query route with the role's defaults enforced (a build's memory). */
export function queryTargetWithDefaults(check: QueryCheck, target: string): string {
  return check.kind === 'build' && !check.auditOnly ? buildTargetWithDefaults(target, check.rules) : target;
}
