import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UsageError } from '../../src/util/errors.js';
import { loadYamlConfig, parseYamlConfig } from '../../src/util/yaml-config.js';

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['port'],
  properties: {
    port: { type: 'integer' },
    mode: { type: 'string', enum: ['a', 'b'], default: 'a' },
    identities: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name'],
        properties: { name: { type: 'string' }, roles: { type: 'array', items: { type: 'string' } } },
      },
    },
  },
};

function errorOf(text: string): string {
  try {
    loadYamlConfig(text, schema, 'gateway.yaml');
  } catch (e) {
    assert.ok(e instanceof UsageError, `expected UsageError, got ${String(e)}`);
    return e.message;
  }
  assert.fail('expected an error');
}

describe('loadYamlConfig', () => {
  it('returns the validated value with schema defaults filled in', () => {
    const v = loadYamlConfig<{ port: number; mode: string }>('port: 2376\n', schema, 'gateway.yaml');
    assert.deepEqual(v, { port: 2376, mode: 'a' });
  });

  it('names the line and the parent of an unknown key', () => {
    assert.equal(
      errorOf('port: 1\nidentities:\n  - name: ci\n    rolez: [x]\n'),
      'gateway.yaml:4: unknown key "rolez" under "identities[0]" (allowed: name, roles)',
    );
    assert.equal(errorOf('port: 1\n\nfoo: 2\n'), 'gateway.yaml:3: unknown key "foo" at top level (allowed: port, mode, identities)');
  });

  it('names the line of a wrongly typed value', () => {
    assert.equal(errorOf('# comment\nport: "x"\n'), 'gateway.yaml:2: "port" must be an integer');
    assert.equal(errorOf('port: 1\nidentities:\n  - name: ci\n  - name: 5\n'), 'gateway.yaml:4: "identities[1].name" must be a string');
    assert.equal(errorOf('port: 1\nmode: c\n'), 'gateway.yaml:2: "mode" must be one of "a", "b"');
  });

  it('reports missing required keys', () => {
    assert.equal(errorOf('mode: a\n'), 'gateway.yaml:1: the document is missing required key "port"');
    assert.equal(errorOf('port: 1\nidentities:\n  - roles: [a]\n'), 'gateway.yaml:3: "identities[0]" is missing required key "name"');
  });

  it('refuses duplicate keys instead of letting the last one win', () => {
    assert.equal(errorOf('port: 1\nmode: a\nport: 2\n'), 'gateway.yaml:3: duplicate key "port"');
  });

  it('refuses syntax errors, several documents and an empty file', () => {
    assert.match(errorOf('port: 1\nidentities: [\n'), /^gateway\.yaml:\d+: /);
    assert.equal(errorOf('port: 1\n---\nport: 2\n'), 'gateway.yaml:2: only one YAML document is allowed');
    assert.equal(errorOf('# nothing\n'), 'gateway.yaml: the file is empty');
    assert.equal(errorOf('- 1\n'), 'gateway.yaml:1: the document must be an object');
  });

  it('lets callers report semantic errors at a path', () => {
    const cfg = parseYamlConfig<{ identities: { name: string }[] }>(
      'port: 1\nidentities:\n  - name: ci\n  - name: admin\n',
      schema,
      'gateway.yaml',
    );
    assert.equal(cfg.lineOf(['identities', 1, 'name']), 4);
    assert.equal(cfg.lineOf(['identities', 1, 'nope']), 4);
    assert.throws(() => cfg.fail(['identities', 0], 'bad'), { message: 'gateway.yaml:3: bad' });
  });
});
