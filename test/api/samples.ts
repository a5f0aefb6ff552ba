import type { Route } from '../../src/api/routes.js';

/**
 * A concrete path that exercises `route`: greedy parameters get a value with "/" and ":" in it
 * (an image reference), segment parameters a single segment.
 */
export function samplePath(route: Route): string {
  const m = route.matcher;
  if (m.kind === 'exact') return route.template;
  if (m.kind === 'affix') return `${m.prefix}${m.oneSegment ? 'x1' : 'localhost:5000/a/b:1'}${m.suffix}`;
  return route.template.replace(/\{\w+\}/g, 'x1');
}
