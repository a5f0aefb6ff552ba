/**
 * Named cases for the Go-compatible decoder and encoder (what each case expects is Go's
 * behaviour, read in Go 1.19's decode.go and Go 1.27's json/v2 v1 emulation; the
 * create-differential test checks the same rules against the real dockerd).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decode, GoJsonError, MAX_UNKNOWN } from '../../../src/api/gojson/decode.js';
import { encode } from '../../../src/api/gojson/encode.js';
import * as g from '../../../src/api/gojson/types.js';

const Resources = g.struct('container.Resources', [
  g.field('Memory', g.int64),
  g.field('CPUShares', g.int64, { tag: 'CpuShares' }),
  g.field('BlkioWeight', g.uint16),
  g.field('Devices', g.slice(g.struct('container.DeviceMapping', [g.field('PathOnHost', g.string), g.field('CgroupPermissions', g.string)]))),
]);
const Mount = g.struct('mount.Mount', [
  g.field('Type', g.string, { omitempty: true }),
  g.field('Source', g.string, { omitempty: true }),
  g.field('Target', g.string, { omitempty: true }),
  g.field('ReadOnly', g.bool, { omitempty: true }),
]);
const HostConfig = g.struct('container.HostConfig', [
  g.field('Privileged', g.bool),
  g.field('CapAdd', g.strslice),
  g.field('Binds', g.slice(g.string)),
  g.field('Sysctls', g.map(g.string), { omitempty: true }),
  g.field('PidsLimit', g.ptr(g.int64)),
  g.field('ConsoleSize', g.array(2, g.uint)),
  g.embed(Resources),
  g.field('Mounts', g.slice(Mount), { omitempty: true }),
  g.field('OomScoreAdj', g.int),
]);
const Config = g.struct('container.Config', [g.field('Image', g.string), g.field('Cmd', g.strslice), g.field('Labels', g.map(g.string))]);
const Create = g.struct('container.CreateRequest', [
  g.embed(g.ptr(Config)),
  g.field('HostConfig', g.ptr(HostConfig), { tag: 'HostConfig', omitempty: true }),
]);

/** The HostConfig part of the canonical encoding, parsed, for short expectations. */
function hc(body: string): Record<string, unknown> {
  return JSON.parse(encode(decode(Buffer.from(body), Create).value, Create)).HostConfig;
}

interface Case {
  name: string;
  body: string;
  /** Expected HostConfig fields (a subset), or the error message part. */
  want?: Record<string, unknown>;
  error?: RegExp;
}

const CASES: Case[] = [
  { name: 'exact key', body: '{"HostConfig":{"Privileged":true}}', want: { Privileged: true } },
  { name: 'lower-case keys match', body: '{"hostconfig":{"privileged":true}}', want: { Privileged: true } },
  { name: 'case-variant duplicate: the last wins', body: '{"HostConfig":{"Privileged":false,"privileged":true}}', want: { Privileged: true } },
  { name: 'exact then variant: still the last wins', body: '{"HostConfig":{"privileged":true,"Privileged":false}}', want: { Privileged: false } },
  { name: 'escaped key decodes before matching', body: '{"HostConfig":{"\\u0050rivileged":true}}', want: { Privileged: true } },
  { name: 'long s folds to s', body: '{"HostConfig":{"Privileged":true,"ſyſctlſ":{"a":"1"}}}', want: { Sysctls: { a: '1' } } },
  { name: 'escaped long s folds to s', body: '{"HostConfig":{"\\u017fysctls":{"a":"1"}}}', want: { Sysctls: { a: '1' } } },
  { name: 'Kelvin sign folds to k', body: '{"HostConfig":{"Bl\u212aioWeight":5}}'.replace('\u212a', 'k').replace('Blk', 'Bl\u212a'), want: { BlkioWeight: 5 } },
  { name: 'dotless i does not fold to i', body: '{"HostConfig":{"Prıvileged":true}}', want: { Privileged: false } },
  { name: 'hyphen and underscore are not ignored', body: '{"HostConfig":{"Cpu_Shares":5,"Pids-Limit":3}}', want: { CpuShares: 0, PidsLimit: null } },
  { name: 'embedded struct fields are promoted', body: '{"HostConfig":{"Memory":1048576,"cpushares":2}}', want: { Memory: 1048576, CpuShares: 2 } },
  { name: 'repeated struct key merges fields', body: '{"HostConfig":{"Privileged":true},"hostConfig":{"Binds":["/:/h"]}}', want: { Privileged: true, Binds: ['/:/h'] } },
  { name: 'null pointer then object: a fresh struct', body: '{"HostConfig":{"Privileged":true},"HostConfig":null,"HostConfig":{"Binds":[]}}', want: { Privileged: false, Binds: [] } },
  { name: 'null leaves a bool as it was', body: '{"HostConfig":{"Privileged":true,"Privileged":null}}', want: { Privileged: true } },
  { name: 'null leaves an int as it was', body: '{"HostConfig":{"OomScoreAdj":5,"OomScoreAdj":null}}', want: { OomScoreAdj: 5 } },
  { name: 'null sets a pointer to nil', body: '{"HostConfig":{"PidsLimit":5,"PidsLimit":null}}', want: { PidsLimit: null } },
  { name: 'null sets a slice to nil', body: '{"HostConfig":{"Binds":["/a"],"Binds":null}}', want: { Binds: null } },
  { name: 'empty array is an empty slice', body: '{"HostConfig":{"Binds":[]}}', want: { Binds: [] } },
  { name: 'map keys are exact, the last wins', body: '{"HostConfig":{"Sysctls":{"a":"1","A":"2","\\u0061":"3"}}}', want: { Sysctls: { a: '3', A: '2' } } },
  { name: 'repeated map key keeps earlier entries', body: '{"HostConfig":{"Sysctls":{"a":"1"},"Sysctls":{"b":"2"}}}', want: { Sysctls: { a: '1', b: '2' } } },
  { name: 'StrSlice from a string', body: '{"HostConfig":{"CapAdd":"SYS_ADMIN"}}', want: { CapAdd: ['SYS_ADMIN'] } },
  { name: 'StrSlice from an array, null elements are ""', body: '{"HostConfig":{"CapAdd":["A",null]}}', want: { CapAdd: ['A', ''] } },
  { name: 'StrSlice refuses a number', body: '{"HostConfig":{"CapAdd":1}}', error: /HostConfig\.CapAdd: cannot decode a JSON number 1 into Go type strslice\.StrSlice/ },
  { name: 'slice elements merge into the existing ones', body: '{"HostConfig":{"Mounts":[{"Type":"bind","Source":"/"}],"Mounts":[{"Target":"/h"}]}}', want: { Mounts: [{ Type: 'bind', Source: '/', Target: '/h' }] } },
  {
    name: 'slice elements past the length merge too',
    body: '{"HostConfig":{"Mounts":[{"Source":"/a"},{"Source":"/b"}],"Mounts":[{}],"Mounts":[{},{"Target":"/t"}]}}',
    want: { Mounts: [{ Source: '/a' }, { Source: '/b', Target: '/t' }] },
  },
  { name: 'an empty array drops the backing array', body: '{"HostConfig":{"Mounts":[{"Source":"/a"}],"Mounts":[],"Mounts":[{"Target":"/t"}]}}', want: { Mounts: [{ Target: '/t' }] } },
  { name: 'fixed array: extra elements dropped', body: '{"HostConfig":{"ConsoleSize":[1,2,3]}}', want: { ConsoleSize: [1, 2] } },
  { name: 'fixed array: missing elements zeroed', body: '{"HostConfig":{"ConsoleSize":[1,2],"ConsoleSize":[7]}}', want: { ConsoleSize: [7, 0] } },
  { name: 'int refuses a fraction', body: '{"HostConfig":{"Memory":1.0}}', error: /HostConfig\.Memory: cannot decode a JSON number 1\.0 into Go type int64/ },
  { name: 'int refuses an exponent', body: '{"HostConfig":{"Memory":1e3}}', error: /number 1e3/ },
  { name: 'int64 overflow', body: '{"HostConfig":{"Memory":9223372036854775808}}', error: /HostConfig\.Memory/ },
  { name: 'uint16 overflow', body: '{"HostConfig":{"BlkioWeight":65536}}', error: /uint16/ },
  { name: 'unsigned refuses a minus', body: '{"HostConfig":{"BlkioWeight":-0}}', error: /uint16/ },
  { name: 'bool refuses a string', body: '{"HostConfig":{"Privileged":"true"}}', error: /HostConfig\.Privileged: cannot decode a JSON string into Go type bool/ },
  { name: 'struct refuses an array', body: '{"HostConfig":[]}', error: /HostConfig: cannot decode a JSON array into Go type container\.HostConfig/ },
  { name: 'syntax: trailing comma', body: '{"HostConfig":{"Privileged":true,}}', error: /invalid JSON at byte 33/ },
  { name: 'syntax: single quotes', body: "{'HostConfig':{}}", error: /invalid JSON/ },
  { name: 'syntax: bad escape', body: '{"HostConfig":{"Privi\\leged":true}}', error: /string escape/ },
  { name: 'syntax: control character in a string', body: '{"HostConfig":{"Binds":["a\tb"]}}', error: /in string literal/ },
  { name: 'syntax: leading zero', body: '{"HostConfig":{"Memory":01}}', error: /invalid JSON/ },
  { name: 'empty body', body: '  ', error: /empty body/ },
];

describe('gojson decode: named cases', () => {
  for (const c of CASES) {
    it(c.name, () => {
      if (c.error) {
        assert.throws(() => hc(c.body), (e: unknown) => e instanceof GoJsonError && c.error!.test(e.message), c.body);
        return;
      }
      const got = hc(c.body);
      for (const [k, v] of Object.entries(c.want!)) assert.deepEqual(got[k], v, `${c.body}: ${k}`);
    });
  }
});

function str(body: string): string {
  const T = g.struct('T', [g.field('S', g.string)]);
  return (JSON.parse(encode(decode(Buffer.from(body), T).value, T)) as { S: string }).S;
}

describe('gojson decode: strings', () => {
  it('invalid UTF-8: one U+FFFD per bad byte, as utf8.DecodeRune', () => {
    const body = Buffer.concat([Buffer.from('{"S":"a'), Buffer.from([0xe2, 0x82, 0x41, 0xff, 0xed, 0xa0, 0x80, 0xf0, 0x9f, 0x98, 0x80]), Buffer.from('"}')]);
    const T = g.struct('T', [g.field('S', g.string)]);
    const v = decode(body, T).value as unknown as { fields: string[] };
    assert.equal(v.fields[0], 'a\ufffd\ufffdA\ufffd\ufffd\ufffd\ufffd😀');
  });
  it('lone surrogates become U+FFFD; a following escape is read on its own', () => {
    assert.equal(str('{"S":"\\ud800x"}'), '\ufffdx');
    assert.equal(str('{"S":"\\udc00"}'), '\ufffd');
    assert.equal(str('{"S":"\\ud800\\u0041"}'), '\ufffdA');
    assert.equal(str('{"S":"\\ud800\\ud800\\udc00"}'), '\ufffd\u{10000}');
    assert.equal(str('{"S":"\\ud83d\\ude00"}'), '😀');
  });
  it('the encoder escapes as Go: HTML characters, line separators, control characters', () => {
    const T = g.struct('T', [g.field('S', g.string)]);
    const v = decode(Buffer.from('{"S":"<a&b>\\u2028\\u0001\\n\\"\\\\"}'), T).value;
    assert.equal(encode(v, T), '{"S":"\\u003ca\\u0026b\\u003e\\u2028\\u0001\\n\\"\\\\"}');
  });
});

describe('gojson decode: what Go ignores is reported', () => {
  it('unknown keys with their path', () => {
    const d = decode(Buffer.from('{"Image":"x","HostConfig":{"Privileged":true,"Bogus":{"a":1}},"Extra":[1]}'), Create);
    assert.deepEqual(d.unknown, ['HostConfig.Bogus', 'Extra']);
    assert.equal(d.unknownCount, 2);
  });
  it('unknown keys with an empty value (a newer client marshalling its zero values) are not reported', () => {
    const d = decode(Buffer.from('{"Image":"x","GwPriority":0,"DNSNames":null,"A":false,"B":"","C":[ ],"D":{},"E":0.0,"F":[0]}'), Create);
    assert.deepEqual(d.unknown, ['E', 'F'], 'only the literal empty values are passed over');
  });
  it('unknown keys are counted beyond the first MAX_UNKNOWN', () => {
    const keys = Array.from({ length: 50 }, (_, k) => `"u${k}":1`).join(',');
    const d = decode(Buffer.from(`{${keys}}`), Create);
    assert.equal(d.unknown.length, MAX_UNKNOWN);
    assert.equal(d.unknownCount, 50);
  });
  for (const [tail, rest] of [['', 'end'], [' \n', 'end'], ['}', 'closer'], [' ]', 'closer'], ['{"HostConfig":{"Privileged":true}}', 'content'], ['x', 'content']] as const) {
    it(`what follows the value: ${JSON.stringify(tail)} is ${rest}`, () => {
      const d = decode(Buffer.from(`{"Image":"x"}${tail}`), Create);
      assert.equal(d.rest, rest);
      assert.equal(d.restOffset, tail.trim() ? 13 + tail.indexOf(tail.trim()[0]!) : 13 + tail.length);
    });
  }
});

describe('gojson encode: canonical form', () => {
  it('int64 is exact to its bounds', () => {
    const out = encode(decode(Buffer.from('{"HostConfig":{"Memory":9223372036854775807,"OomScoreAdj":-9223372036854775808}}'), Create).value, Create);
    assert.match(out, /"Memory":9223372036854775807,.*"OomScoreAdj":-9223372036854775808/);
  });
  it('canonical names, field order, omitempty, nil embedded pointer left out, sorted map keys', () => {
    const d = decode(Buffer.from('{"hostconfig":{"sysctls":{"b":"1","a":"2"},"privileged":true}}'), Create);
    const out = encode(d.value, Create);
    assert.ok(out.startsWith('{"HostConfig":{"Privileged":true,"CapAdd":null,"Binds":null,"Sysctls":{"a":"2","b":"1"},'), out);
    assert.doesNotMatch(out, /"Image"/, 'Config is a nil embedded pointer: its fields are not marshalled');
    assert.doesNotMatch(out, /"Mounts"/, 'omitempty');
  });
  it('re-decoding the canonical form gives the same canonical form', () => {
    const d = decode(Buffer.from('{"Image":"i","Cmd":"sh","hostconfig":{"Mounts":[{"Source":"/a"},{"Source":"/b"}],"mounts":[{}],"Memory":3}}'), Create);
    const once = encode(d.value, Create);
    assert.equal(encode(decode(Buffer.from(once), Create).value, Create), once);
    assert.match(once, /"Mounts":\[\{"Source":"\/a"\}\]/, 'only the length is encoded, not the backing array');
  });
});

describe('gojson decode: bounds', () => {
  it('refuses nesting deeper than maxDepth, also inside unknown keys', () => {
    const deep = (n: number) => `{"Extra":${'['.repeat(n)}${']'.repeat(n)}}`;
    assert.doesNotThrow(() => decode(Buffer.from(deep(60)), Create));
    assert.throws(() => decode(Buffer.from(deep(64)), Create), /nested deeper than 64/);
    assert.throws(() => decode(Buffer.from(deep(100_000)), Create), /nested deeper than 64/);
  });
  it('refuses input over maxBytes', () => {
    assert.throws(() => decode(Buffer.alloc(2 << 20, 0x20), Create), /more than the 1048576 allowed/);
  });
  it('stays linear: a repeated key over a large backing array, long keys, many unknown keys', () => {
    const big = `[${Array.from({ length: 50_000 }, () => '"x"').join(',')}]`;
    const attacks = [
      `{"HostConfig":{"Binds":${big}${',"Binds":["y"]'.repeat(50_000)}}}`,
      `{"HostConfig":{"Sysctls":{"${'k'.repeat(400_000)}":"v"}},"${'K'.repeat(400_000)}":1}`,
      `{${Array.from({ length: 60_000 }, (_, k) => `"u${k}":{}`).join(',')}}`,
    ];
    for (const a of attacks) {
      const start = process.hrtime.bigint();
      decode(Buffer.from(a), Create, { maxBytes: 4 << 20 });
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      assert.ok(ms < 1500, `${a.slice(0, 40)}… took ${ms} ms`);
    }
  });
});

describe('gojson: Go field flattening', () => {
  it('shallower wins, tagged wins at equal depth, otherwise the name is dropped', async () => {
    const { flatten } = await import('../../../src/api/gojson/fields.js');
    const A = g.struct('A', [g.field('X', g.string), g.field('Y', g.string), g.field('Z', g.string)]);
    const B = g.struct('B', [g.field('X', g.string), g.field('Y', g.string, { tag: 'Y' }), g.field('Q', g.string)]);
    const T = g.struct('T', [g.embed(A), g.embed(g.ptr(B)), g.field('Z', g.int)]);
    const names = flatten(T).fields.map((f) => `${f.name}@${f.path.join('.')}`);
    assert.deepEqual(names, ['Y@1.1', 'Q@1.2', 'Z@2'].sort((a, b) => names.indexOf(a) - names.indexOf(b)));
    assert.ok(!names.some((n) => n.startsWith('X@')), 'X is at the same depth in A and B, neither tagged: dropped');
  });
  it('a field of a nil embedded pointer allocates it', () => {
    const d = decode(Buffer.from('{"image":"busybox"}'), Create);
    assert.match(encode(d.value, Create), /^\{"Image":"busybox","Cmd":null,"Labels":null\}$/);
  });
});

describe('gojson: []byte as encoding/json reads it (base64.StdEncoding, or an array of numbers)', () => {
  const T = g.struct('T', [g.field('B', g.bytes, { omitempty: true })]);
  const roundTrip = (body: string) => encode(decode(Buffer.from(body), T).value, T);
  const CASES: [string, string, string][] = [
    ['a padded base64 string', '{"B":"aGk="}', '{"B":"aGk="}'],
    ['\\r and \\n skipped anywhere', '{"B":"aG\\r\\nk="}', '{"B":"aGk="}'],
    ['an array of numbers', '{"B":[104,105]}', '{"B":"aGk="}'],
    ['null: nil, left out by omitempty', '{"B":null}', '{}'],
    ['the empty string: empty, left out', '{"B":""}', '{}'],
  ];
  for (const [name, body, out] of CASES) it(name, () => assert.equal(roundTrip(body), out));
  for (const bad of ['{"B":"aGk"}', '{"B":"aG k="}', '{"B":"aGk=="}', '{"B":"a-_="}', '{"B":[256]}', '{"B":true}']) {
    it(`refuses ${bad}`, () => assert.throws(() => decode(Buffer.from(bad), T), GoJsonError));
  }
});
