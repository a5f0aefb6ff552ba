/**
 * The routes whose request body decides what happens, and which check reads it. Every other
 * route's body (if any) is forwarded untouched: nothing in it widens what the route does.
 */
export type BodyKind = 'container-create' | 'container-update' | 'exec-create' | 'volume-create';

export const BODY_ROUTES: ReadonlyMap<string, BodyKind> = new Map<string, BodyKind>([
  ['POST /containers/create', 'container-create'],
  ['POST /containers/{id}/update', 'container-update'],
  ['POST /containers/{id}/exec', 'exec-create'],
  ['POST /volumes/create', 'volume-create'],
]);
