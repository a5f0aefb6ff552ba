import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseDaemonJson, renderDaemonJson } from '../../src/daemon/daemon-json.js';
import { unknownKeys, configKeyOfFlag, dockerdKeys, DOCKERD_20_10, DOCKERD_28_5 } from '../../src/daemon/known-keys.js';
import { parseDockerdVersion } from '../../src/daemon/dockerd.js';
import { resolveExecStart, dockerdFlags, splitWords, execStartWithout } from '../../src/daemon/systemd-unit.js';
import { parseSubIds, freeRangeStart, appendRange } from '../../src/daemon/subids.js';
import { FIXTURES } from './root.js';

describe('daemon.json strict parsing', () => {
  test("the seeds' commented example: every comment reported with its line, settings recovered", async () => {
    const text = await readFile(join(FIXTURES, 'seed-commented-daemon.json'), 'utf8');
    const { config, issues } = parseDaemonJson(text);
    assert.deepEqual(issues.map((i) => [i.kind, i.line]), [['comment', 2], ['comment', 3], ['comment', 4], ['comment', 8], ['comment', 10], ['comment', 11]]);
    assert.equal(config?.icc, false);
    assert.deepEqual(config?.['log-opts'], { 'max-size': '10m', 'max-file': '3' });
  });

  test('trailing commas and duplicate keys (nested too) are found; the last duplicate wins as in Go', () => {
    const { config, issues } = parseDaemonJson('{\n "a": [1,2,],\n "b": {"x": 1, "x": 2},\n "a": 3,\n}\n');
    assert.deepEqual(issues.map((i) => `${i.kind}@${i.line}`), ['trailing-comma@2', 'duplicate-key@3', 'duplicate-key@4', 'trailing-comma@4']);
    assert.deepEqual(config, { a: 3, b: { x: 2 } });
  });

  test('broken JSON yields no settings, and a non-object top level is refused', () => {
    assert.equal(parseDaemonJson('{"a": }').config, undefined);
    assert.equal(parseDaemonJson('[1]').issues[0]?.kind, 'not-an-object');
    assert.deepEqual(parseDaemonJson('  \n').config, {});
  });

  test('a clean file is edited in place: formatting and order kept, only the changes differ', () => {
    const text = '{\n    "labels": ["a=b"],\n    "debug": true\n}\n';
    const out = renderDaemonJson(text, true, { labels: ['a=b'], debug: true }, { labels: ['a=b'], debug: false, icc: false, 'log-opts': { 'max-size': '10m' } });
    assert.equal(out, '{\n    "labels": ["a=b"],\n    "debug": false,\n    "icc": false,\n    "log-opts": {\n        "max-size": "10m"\n    }\n}\n');
    assert.equal(renderDaemonJson('{"a":1, // c\n}', false, { a: 1 }, { a: 1 }), '{\n  "a": 1\n}\n');
  });
});

describe('known keys (taken from dockerd 20.10 and 28.5 themselves)', () => {
  test('unknown keys, flattened objects, newer-version keys and misspellings (20.10)', () => {
    const u = unknownKeys({ icc: false, 'log-opts': { 'max-size': '1m' }, foo: 1, tls: { bar: 1 }, proxies: {}, 'live-restor': true }, DOCKERD_20_10);
    const byKey = Object.fromEntries(u.map((k) => [k.key, k]));
    assert.deepEqual(Object.keys(byKey).sort(), ['bar', 'foo', 'live-restor']);
    assert.equal(byKey.bar?.parent, 'tls');
    assert.match(byKey['live-restor']!.hint, /did you mean "live-restore"/);
    // "proxies" is an object dockerd flattens: its inner keys are what it complains about.
    assert.deepEqual(unknownKeys({ proxies: { 'http-proxy': 'http://p:3128' } }, DOCKERD_20_10)[0]?.hint, '"http-proxy" exists from dockerd 23.0 on; dockerd 20.10 refuses it: remove it, or upgrade dockerd');
    assert.deepEqual(unknownKeys({ 'log-format': 'json' }, DOCKERD_20_10)[0]?.hint, '"log-format" exists from dockerd 25.0 on; dockerd 20.10 refuses it: remove it, or upgrade dockerd');
    assert.match(unknownKeys({ 'allow-direct-routing': true }, DOCKERD_20_10)[0]?.hint ?? '', /exists in newer dockerd \(28\.5 has it\)/);
  });

  test('28.5: its new keys pass, default-network-opts stays whole, removed keys say what replaced them', () => {
    const config = { 'log-format': 'json', proxies: { 'http-proxy': 'http://p:3128', 'no-proxy': 'localhost' }, 'default-network-opts': { bridge: { 'com.docker.network.driver.mtu': '1400' } }, 'cdi-spec-dirs': ['/etc/cdi'], bip6: 'fd00::1/64', 'min-api-version': '1.24', 'live-restor': true, graph: '/srv/docker', 'cluster-store': 'consul://x' };
    const byKey = Object.fromEntries(unknownKeys(config, DOCKERD_28_5).map((k) => [k.key, k.hint]));
    assert.deepEqual(Object.keys(byKey).sort(), ['cluster-store', 'graph', 'live-restor', 'min-api-version']);
    assert.equal(byKey.graph, '"graph" was a key of dockerd 20.10; dockerd 28.5 refuses it: use "data-root"');
    assert.match(byKey['live-restor']!, /did you mean "live-restore"/);
    assert.equal(dockerdKeys(20), DOCKERD_20_10);
    assert.equal(dockerdKeys(28), DOCKERD_28_5);
  });

  test('dockerd --version is read for the version that decides the keys', () => {
    assert.deepEqual(parseDockerdVersion('Docker version 28.5.2+dfsg4, build 3ef3c07c883be49a2e8097bcf6d2952fce1d70eb\n'), { version: '28.5.2+dfsg4', major: 28, minor: 5 });
    assert.deepEqual(parseDockerdVersion('Docker version 20.10.24+dfsg1, build 5d6db84\n'), { version: '20.10.24+dfsg1', major: 20, minor: 10 });
    assert.equal(parseDockerdVersion('dockerd: command not found'), undefined);
  });

  test('flags map onto the keys they collide with', () => {
    assert.equal(configKeyOfFlag('H'), 'hosts');
    assert.equal(configKeyOfFlag('log-opt'), 'log-opts');
    assert.equal(configKeyOfFlag('icc'), 'icc');
  });
});

describe('systemd unit reading', () => {
  test('the stock Debian ExecStart: -H fd:// and $DOCKER_OPTS expanded from the environment file', async () => {
    const unit = { path: '/lib/systemd/system/docker.service', text: await readFile(join(FIXTURES, 'docker.service'), 'utf8') };
    const exec = resolveExecStart([unit])!;
    assert.equal(exec.line, '/usr/sbin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock $DOCKER_OPTS');
    const flags = dockerdFlags(exec, { DOCKER_OPTS: '--debug --log-level "warn"' });
    assert.deepEqual(flags.map((f) => [f.name, f.value, f.source]), [
      ['host', 'fd://', unit.path],
      ['containerd', '/run/containerd/containerd.sock', unit.path],
      ['debug', 'true', '$DOCKER_OPTS'],
      ['log-level', 'warn', '$DOCKER_OPTS'],
    ]);
    assert.equal(execStartWithout(exec, new Set(flags[0]!.words)), '/usr/sbin/dockerd --containerd=/run/containerd/containerd.sock $DOCKER_OPTS');
  });

  test('an empty ExecStart= in a drop-in resets; continuation lines join; the last drop-in wins', () => {
    const files = [
      { path: '/lib/systemd/system/docker.service', text: '[Service]\nExecStart=/usr/bin/dockerd -H fd://\n' },
      { path: '/etc/systemd/system/docker.service.d/a.conf', text: '[Service]\nExecStart=\nExecStart=/usr/bin/dockerd \\\n  --host=unix:///x.sock --icc=false\n' },
      { path: '/etc/systemd/system/docker.service.d/b.conf', text: '[Unit]\nExecStart=/ignored\n' },
    ];
    const exec = resolveExecStart(files)!;
    assert.equal(exec.source, '/etc/systemd/system/docker.service.d/a.conf');
    assert.deepEqual(dockerdFlags(exec, {}).map((f) => `${f.name}=${f.value}`), ['host=unix:///x.sock', 'icc=false']);
    assert.equal(resolveExecStart([...files, { path: '/etc/x.conf', text: '[Service]\nExecStart=\n' }]), undefined);
  });

  test('quoting as systemd does it', () => {
    assert.deepEqual(splitWords(`a "b c" 'd e' f\\ g`).map((w) => w.value), ['a', 'b c', 'd e', 'f g']);
  });
});

describe('subordinate ids', () => {
  test('a new range never overlaps an existing one, in either file', () => {
    const { ranges } = parseSubIds('alice:100000:65536\nbob:165536:1000\n# note\n');
    assert.equal(freeRangeStart(ranges), 166536);
    assert.equal(freeRangeStart([]), 100000);
    assert.equal(freeRangeStart([{ name: 'x', start: 300000, count: 10 }]), 100000);
    assert.equal(freeRangeStart([{ name: 'x', start: 150000, count: 10 }]), 150010);
    assert.deepEqual(parseSubIds('bad line\nok:1:2\n').bad, [1]);
    assert.equal(appendRange('a:1:2', { name: 'd', start: 5, count: 6 }), 'a:1:2\nd:5:6\n');
  });
});
