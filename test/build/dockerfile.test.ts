/**
 * The Dockerfile reader against the parser's own rules (BuildKit's frontend/dockerfile/parser and
 * shell.Lex, which dockerd's classic builder uses), with generated line continuations, escape
 * tokens and quoting; and the build check on contexts that need no daemon (FROM scratch).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDockerfile, pairs, quotedWords } from '../../src/build/dockerfile.js';
import { processWord, Unknowable } from '../../src/build/shell-lex.js';
import { BuildRefusal, checkBuildContext } from '../../src/build/check.js';
import { compileContainerRules, compileRoleRules } from '../../src/policy/constraints/rules.js';
import { tarArchive, tarGzArchive } from '../../src/util/tar.js';

const dir = await mkdtemp(join(tmpdir(), 'dw-dockerfile-'));
test.after(() => rm(dir, { recursive: true, force: true }));

/** A small deterministic generator: the same cases every run. */
function* rng(seed: number): Generator<number> {
  for (;;) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    yield seed / 2 ** 31;
  }
}

test('line continuations: comments and blank lines inside are skipped, the escape token is the directive\'s', () => {
  const r = rng(7);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r.next().value * xs.length)]!;
  const text = 'ADD http://h.example/x /d';
  for (let n = 0; n < 300; n++) {
    const escape = pick(['\\', '`'] as const);
    // Split the instruction at random places (never after a space, where the parser keeps the
    // next line's leading whitespace), with comments, blank lines and trailing blanks between.
    let out = escape === '`' ? '# escape=`\n' : pick(['', '# syntax=docker/dockerfile:1\n', '\n']);
    out += 'FROM scratch\n';
    let rest = text;
    while (rest.length > 3 && r.next().value < 0.6) {
      const at = 1 + Math.floor(r.next().value * (rest.length - 2));
      if (rest[at - 1] === ' ' || rest[at - 1] === escape) continue;
      out += `${rest.slice(0, at)}${escape}${pick(['', ' ', '\t '])}\n${pick(['', '# a comment\n', '  # indented\n', '\n', '   \n'])}`;
      rest = rest.slice(at);
    }
    out += `${rest}\n`;
    const f = parseDockerfile(out);
    assert.equal(f.escape, escape, out);
    const add = f.instructions.find((i) => i.cmd === 'add');
    assert.equal(add?.rest, 'http://h.example/x /d', JSON.stringify(out));
  }
});

test('the other escape token is an ordinary character; a late directive is a comment', () => {
  assert.throws(() => parseDockerfile('# escape=`\nFROM scratch\nRUN a \\\nb\n'), /unknown instruction "b"/);
  const late = parseDockerfile('FROM scratch\n# escape=`\nRUN a \\\n  b\n');
  assert.deepEqual(late.instructions.map((i) => [i.cmd, i.rest]), [['from', 'scratch'], ['run', 'a   b']]);
  assert.throws(() => parseDockerfile('# escape=x\nFROM scratch\n'), /invalid escape token/);
  // dockerd 20.10 reads an escape directive only on the first line.
  assert.throws(() => parseDockerfile('# syntax=docker/dockerfile:1\n# escape=`\nFROM scratch\n'), /read differently/);
  assert.throws(() => parseDockerfile('#\fescape=`\nFROM scratch\n'), /read differently/);
  // Read differently by dockerd 20.10 and later parsers: refused.
  assert.throws(() => parseDockerfile('FROM scratch\nRUN a \\\\\nADD http://x /y\n'), /read differently/);
  // Heredocs take the lines after them as data.
  assert.throws(() => parseDockerfile('FROM scratch\nRUN <<EOF\nADD http://x /y\nEOF\n'), /heredoc/);
  assert.throws(() => parseDockerfile('FROM scratch\nFROB x\n'), /unknown instruction/);
});

test('flags and words as the parser splits them', () => {
  const f = parseDockerfile('FROM scratch\nCOPY --from=a --chown="1 2" x /y\nLABEL "a b"=c d=e\\ f \'g h\'=i\n');
  assert.deepEqual(f.instructions[1]!.flags, ['--from=a', '--chown=1 2']);
  assert.deepEqual(quotedWords(f.instructions[2]!.rest, '\\'), ['"a b"=c', 'd=e\\ f', "'g h'=i"]);
  assert.deepEqual(pairs('key a value', '\\', true), [['key', 'a value']]);
  assert.throws(() => pairs('a=b c', '\\', true), /not name=value/);
  // Go splits flags byte by byte: 0xA0 inside "à" is a space to it, so this would be --from=evil/x.
  assert.throws(() => parseDockerfile('FROM scratch\nCOPY --chown=\u00e0--from=evil/x a b\n'), /beyond ASCII/);
  assert.deepEqual(parseDockerfile('FROM scratch\nCOPY \u00e0 b\n').instructions[1]!.rest, '\u00e0 b');
});

test('substitution as shell.Lex does it; what cannot be known throws', () => {
  const env = new Map<string, string | null>([
    ['A', 'v'],
    ['E', ''],
    ['U', null],
  ]);
  const lookup = (n: string) => (env.has(n) ? env.get(n)! : 'unknown');
  const cases: [string, string][] = [
    ['$A', 'v'],
    ['${A}x', 'vx'],
    ['"$A"\'$A\'', "v$A"],
    ['a\\$A', 'a$A'],
    ['"a\\"b\\c"', 'a"b\\c'],
    ['${U:-d}', 'd'],
    ['${U-d}', 'd'],
    ['${E:-d}', 'd'],
    ['${E-d}', ''],
    ['${A:+x$A}', 'xv'],
    ['${U+x}', ''],
    ['$', '$'],
    ['$ x', '$ x'],
  ];
  for (const [w, want] of cases) assert.equal(processWord(w, '\\', lookup), want, w);
  for (const w of ['$NOPE', '${NOPE}', '${NOPE:-x}', '${A#v}', '${A%v}', '${A/v/w}', '${U:?no}', '"open', "'open", '$1', '$@']) {
    assert.throws(() => processWord(w, '\\', lookup), Unknowable, w);
  }
});

const role = (registries?: string[]) => compileRoleRules(compileContainerRules({}, []), {}, registries ? { registries } : {});

async function check(dockerfile: string, query = '', opts: { gzip?: boolean; name?: string; registries?: string[] } = {}): Promise<string | undefined> {
  const entries = [{ name: opts.name ?? 'Dockerfile', mode: 0o644, data: dockerfile }];
  const file = join(dir, `ctx-${Math.random().toString(36).slice(2)}`);
  await writeFile(file, opts.gzip ? await tarGzArchive(entries) : await tarArchive(entries));
  try {
    await checkBuildContext({ rules: role(opts.registries), query: new URLSearchParams(query), socketPath: join(dir, 'no-daemon.sock') }, file);
    return undefined;
  } catch (e) {
    if (e instanceof BuildRefusal) return e.code;
    throw e;
  }
}

test('ADD of a URL, however it is spelled, is refused; ordinary ADDs are not', async () => {
  const refused: [string, string?][] = [
    ['ADD http://h/x /d'],
    ['ADD "https://h/x" /d'],
    ["ADD 'h'ttp://h/x /d"],
    ['ADD h\\ttp://h/x /d'],
    ['ADD ["http://h/x", "/d"]'],
    ['ADD ["http://h/x","/d"]'],
    ['ADD --chown=1:1 a http://h/x /d/'],
    ['ADD git@github.com:o/r.git /d'],
    ['ARG U=http://h/x\nADD $U /d'],
    ['ARG U\nADD ${U:-http://h/x} /d'],
    ['ARG U=a\nADD $U /d', 'buildargs={"U":"http://h/x"}'],
    ['ENV U http://h/x\nADD ${U} /d'],
    ['ENV P=http: Q=//h\nADD ${P}${Q}/x /d'],
    ['ADD $HTTP_PROXY /d', 'buildargs={"HTTP_PROXY":"http://h:3128"}'],
  ];
  for (const [add, query] of refused) assert.equal(await check(`FROM scratch\n${add}\n`, query), 'DW_BODY_FETCH', add);
  for (const add of ['ADD $NOPE /d', 'ADD ${A#x} /d', 'ONBUILD ADD $X /d']) assert.equal(await check(`FROM scratch\n${add}\n`), 'DW_BODY_BUILD_UNKNOWN', add);
  for (const add of ['ADD a /d', 'ADD ["a b", "/d"]', 'ARG S=src\nADD $S /d/', 'ENV D=/d\nADD a $D', 'ARG S\nADD ${S:-a} /d']) assert.equal(await check(`FROM scratch\n${add}\n`), undefined, add);
});

test('FROM and COPY --from: stages are fine, images are held to the registries, variables must be known', async () => {
  assert.equal(await check('FROM scratch AS a\nFROM a\nCOPY --from=A x y\nCOPY --from=0 x y\n'), undefined);
  assert.equal(await check('ARG B=scratch\nFROM $B\n'), undefined);
  assert.equal(await check('FROM $B\n'), 'DW_BODY_BUILD_UNKNOWN');
  assert.equal(await check('ARG B=scratch\nFROM ${B}\n', 'buildargs={"B":"127.0.0.1:5000/x"}'), 'DW_BODY_REGISTRY');
  assert.equal(await check('FROM scratch\nCOPY --from=ghcr.io/x/y / /\n', '', { registries: ['docker.io'] }), 'DW_BODY_REGISTRY');
  assert.equal(await check('FROM scratch\nCOPY --from=$X / /\n'), 'DW_BODY_BUILD_UNKNOWN');
  assert.equal(await check('FROM scratch\nCOPY --from=1 / /\n'), 'DW_BODY_INVALID', 'the current stage is no earlier stage');
  assert.equal(await check('FROM --platform=linux/arm64 scratch\n'), 'DW_BODY_BUILD_BASE');
  assert.equal(await check('FROM scratch\n', 'pull=1'), 'DW_BODY_BUILD_BASE');
  assert.equal(await check('FROM scratch\n', 'pull=0'), undefined);
  assert.equal(await check('FROM scratch\n', 'platform=linux/amd64'), 'DW_BODY_BUILD_BASE');
});

test('reserved labels are refused however they are spelled', async () => {
  for (const label of ['LABEL io.dockward.owner=bob', 'LABEL "com.docker.compose.project"=x', 'LABEL a=b io\\.dockward\\.x=y', 'ARG K=com.docker.compose.service\nLABEL ${K}=web', 'LABEL com.docker.compose.project app', 'ONBUILD LABEL io.dockward.owner=bob']) {
    assert.equal(await check(`FROM scratch\n${label}\n`), 'DW_BODY_BUILD_LABEL', label);
  }
  assert.equal(await check('FROM scratch\nLABEL org.example.a="b c" version=1\n'), undefined);
});

test('the Dockerfile is found as dockerd finds it', async () => {
  assert.equal(await check('FROM scratch\nADD http://h/x /d\n', '', { gzip: true }), 'DW_BODY_FETCH');
  assert.equal(await check('FROM scratch\nADD http://h/x /d\n', '', { name: 'dockerfile' }), 'DW_BODY_FETCH', 'the lower-case fallback');
  assert.equal(await check('FROM scratch\nADD http://h/x /d\n', 'dockerfile=sub/../.dockerfile.abc', { name: '.dockerfile.abc' }), 'DW_BODY_FETCH');
  assert.equal(await check('FROM scratch\n', 'dockerfile=Other'), 'DW_BODY_INVALID');
  assert.equal(await check('FROM scratch\n', 'dockerfile=../x'), 'DW_BODY_INVALID');
});
