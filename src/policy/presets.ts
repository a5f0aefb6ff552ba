/**
 * Named route sets a policy can allow or deny with `preset:NAME`.
 *
 * Choices a reviewer should know:
 * - `read-only` is what `docker ps / inspect / images / info / version / events / stats / top /
 *   network ls / volume ls / service ls` need, and nothing that hands out data beyond metadata:
 *   no container logs (applications print secrets), no `docker cp`/archive (HEAD included: it
 *   stats arbitrary paths) or export, no image save (`/images/get`), no attach (GET
 *   /containers/{id}/attach/ws is a GET that writes to the container's stdin), no swarm join
 *   tokens (GET /swarm) or unlock key, no config contents (GET /configs), no routes that make the
 *   daemon contact a registry chosen by the caller (search, distribution, plugin privileges).
 *   Inspect output does contain container environment variables (filtering bodies is not this
 *   layer's job); a role that must not see them should not get read-only.
 * - `containers-read` is read-only's container part plus logs.
 * - `containers` is the whole container lifecycle (create, start, attach, cp, export, commit,
 *   remove, ...) but not exec: running commands inside existing containers is `exec`.
 * - `ci-runner` is what a CI job does (containers, exec, images, classic builds, volumes,
 *   networks): with a constrained role's default body checks, none of it reaches the host.
 * - `plugins` is root on the host (a plugin is a privileged container): under a constrained role
 *   installing, upgrading, creating and configuring plugins is refused (UNCONSTRAINABLE_ROUTES).
 * - `all` is every route, dockerd's debug endpoints included.
 */
import { ROUTES, ROUTES_BY_NAME, type Route } from '../api/routes.js';

const SYSTEM = ['GET /_ping', 'HEAD /_ping', 'GET /version', 'GET /info', 'GET /events', 'GET /system/df'];

const CONTAINERS_READ = [
  'GET /containers/json',
  'GET /containers/{id}/json',
  'GET /containers/{id}/top',
  'GET /containers/{id}/changes',
  'GET /containers/{id}/stats',
  'GET /containers/{id}/checkpoints',
];

const EXEC = ['POST /containers/{id}/exec', 'POST /exec/{id}/start', 'POST /exec/{id}/resize', 'GET /exec/{id}/json'];

const READ_ONLY = [
  ...SYSTEM,
  ...CONTAINERS_READ,
  'GET /exec/{id}/json',
  'GET /images/json',
  'GET /images/{name}/json',
  'GET /images/{name}/history',
  'GET /networks',
  'GET /networks/',
  'GET /networks/{id}',
  'GET /volumes',
  'GET /volumes/{name}',
  'GET /plugins',
  'GET /plugins/{name}/json',
  'GET /services',
  'GET /services/{id}',
  'GET /nodes',
  'GET /nodes/{id}',
  'GET /tasks',
  'GET /tasks/{id}',
  'GET /secrets',
  'GET /secrets/{id}',
];

/** Every route whose template starts with one of `prefixes`, minus `except`. */
function area(prefixes: string[], except: string[] = []): string[] {
  return ROUTES.filter((r) => prefixes.some((p) => r.template === p || r.template.startsWith(`${p}/`)))
    .map((r) => r.name)
    .filter((n) => !except.includes(n));
}

const CONTAINERS = [...area(['/containers'], ['POST /containers/{id}/exec']), 'POST /commit'];
const IMAGES = [...area(['/images', '/distribution']), 'POST /auth'];
const BUILD = ['POST /build', 'POST /build/prune', 'POST /build/cancel', 'POST /session', 'POST /grpc'];

const DEFS: Record<string, string[]> = {
  system: SYSTEM,
  'read-only': READ_ONLY,
  'containers-read': [...CONTAINERS_READ, 'GET /containers/{id}/logs'],
  containers: CONTAINERS,
  exec: EXEC,
  images: IMAGES,
  build: BUILD,
  networks: area(['/networks']),
  volumes: area(['/volumes']),
  // A CI job's toolbox; safe only because a constrained role's bodies are checked (README, "What
  // is inside a request"): no host access, classic builds, pulls from the role's registries.
  'ci-runner': [...SYSTEM, ...CONTAINERS, ...EXEC, ...IMAGES, ...BUILD, ...area(['/volumes', '/networks'])],
  swarm: area(['/swarm', '/services', '/nodes', '/tasks', '/secrets', '/configs']),
  plugins: area(['/plugins']),
  all: ROUTES.map((r) => r.name),
};


function resolve(name: string, names: string[]): readonly Route[] {
  return [...new Set(names)].map((n) => {
    const r = ROUTES_BY_NAME.get(n);
    if (!r) throw new Error(`preset ${name}: no route ${n}`);
    return r;
  });
}

export const PRESETS: ReadonlyMap<string, readonly Route[]> = new Map(
  Object.entries(DEFS).map(([name, names]) => [name, resolve(name, names)]),
);
