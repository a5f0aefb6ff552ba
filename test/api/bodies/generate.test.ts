/**
 * The committed body descriptions are what generate.ts makes from moby's source today, and the
 * generator stops on Go it does not model instead of guessing.
 *
 * moby 28.5.2's source comes with the newest engine and 26.1.5's with trixie's (scripts/engines.sh);
 * 20.10.24's is Debian bookworm's golang-github-docker-docker-dev, unpacked by scripts/engines.sh
 * (or DOCKWARD_MOBY_2010_SRC: …/usr/share/gocode/src/github.com/docker/docker); in CI all must be there.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate, TARGETS, type Target } from '../../../src/api/bodies/generate.js';
import { ENGINES_DIR } from '../../harness/engine.js';

const SOURCES: Record<keyof typeof TARGETS, string | undefined> = {
  'moby-20.10': process.env.DOCKWARD_MOBY_2010_SRC ?? join(ENGINES_DIR, 'moby-20.10/root/usr/share/gocode/src/github.com/docker/docker'),
  'moby-26.1': join(ENGINES_DIR, 'trixie/root/usr/share/gocode/src/github.com/docker/docker'),
  'moby-28.5': join(ENGINES_DIR, 'newest/root/usr/share/gocode/src/github.com/docker/docker'),
};

describe('bodies: generated descriptions are current', () => {
  for (const [key, targets] of Object.entries(TARGETS) as [keyof typeof TARGETS, Target[]][]) {
    const src = SOURCES[key];
    const missing = !src || !existsSync(src) ? `no moby source at ${src} (scripts/engines.sh unpacks it)` : undefined;
    if (missing && process.env.CI) throw new Error(missing);
    const skip = missing;
    for (const target of targets) {
      it(`${target.file} from moby ${target.moby}`, { skip }, () => {
        const committed = readFileSync(new URL(`../../../src/api/bodies/${target.file}`, import.meta.url), 'utf8');
        assert.equal(generate(target, src!), committed, `regenerate: node --import tsx src/api/bodies/generate.ts --${key} ${src}`);
      });
    }
  }
});

describe('bodies: the generator stops on what gojson does not model', () => {
  const target: Target = { ...TARGETS['moby-28.5'][0]!, root: 'container.CreateRequest' };
  function tree(types: string): string {
    const root = mkdtempSync(join(tmpdir(), 'dw-moby-'));
    mkdirSync(join(root, 'api/types/container'), { recursive: true });
    writeFileSync(join(root, 'api/common.go'), 'package api\n\nconst (\n\tDefaultVersion = "1.51"\n)\n');
    writeFileSync(join(root, 'api/types/container/create.go'), `package container\n\n${types}\n`);
    return root;
  }
  const cases: [string, string, RegExp][] = [
    ['a custom UnmarshalJSON', 'type CreateRequest struct {\n\tX Weird\n}\ntype Weird string\nfunc (w *Weird) UnmarshalJSON(b []byte) error { return nil }', /container\.Weird has UnmarshalJSON/],
    ['a ,string tag', 'type CreateRequest struct {\n\tN int `json:",string"`\n}', /,string tag/],
    ['an inline struct', 'type CreateRequest struct {\n\tS struct {\n\t\tA int\n\t}\n}', /inline struct/],
    ['an unknown package', 'import "example.com/x"\ntype CreateRequest struct {\n\tS x.T\n}', /example\.com\/x is not known/],
  ];
  for (const [name, types, error] of cases) {
    it(name, () => {
      const root = tree(types);
      try {
        assert.throws(() => generate(target, root), error);
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    });
  }
  it('reads tags, embedding and comments as Go does', () => {
    const root = tree(
      [
        'type CreateRequest struct {',
        '\t*Config // embedded: promoted',
        '\tHostConfig *HostConfig `json:"HostConfig,omitempty"` // a `quoted` comment',
        '\tskipped    string',
        '\tIgnored    string `json:"-"`',
        '\tDash       string `json:"-,"`',
        '}',
        'type Config struct {',
        '\tA, B int',
        '}',
        'type HostConfig struct{}',
      ].join('\n'),
    );
    try {
      const out = generate(target, root);
      assert.match(out, /g\.embed\(g\.ptr\(t\d+_container_Config\)\)/);
      assert.match(out, /g\.field\("HostConfig", g\.ptr\(t\d+_emptyStruct\), \{ tag: "HostConfig", omitempty: true \}\)/);
      assert.match(out, /g\.field\("A", g\.int\),\n {2}g\.field\("B", g\.int\)/);
      assert.match(out, /g\.field\("Dash", g\.string, \{ tag: "-" \}\)/);
      assert.doesNotMatch(out, /skipped|Ignored/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
