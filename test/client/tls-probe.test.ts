import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTarget, serverName } from '../../src/client/tls-probe.js';

test('addresses: tcp://HOST:PORT only, IPv6 in brackets, one clear error otherwise', () => {
  assert.deepEqual(parseTarget('tcp://127.0.0.1:2376'), { url: 'tcp://127.0.0.1:2376', host: '127.0.0.1', port: 2376 });
  assert.deepEqual(parseTarget('tcp://[::1]:2376/'), { url: 'tcp://[::1]:2376', host: '::1', port: 2376 });
  assert.deepEqual(parseTarget('tcp://docker.example.com:2376'), { url: 'tcp://docker.example.com:2376', host: 'docker.example.com', port: 2376 });
  assert.throws(() => parseTarget('unix:///var/run/docker.sock'), { name: 'UsageError', message: /only tcp:\/\/ addresses use TLS/ });
  assert.throws(() => parseTarget('tcp://docker.example.com'), { name: 'UsageError', hint: 'give it as tcp://HOST:PORT, with the port' });
  assert.throws(() => parseTarget('docker.example.com:2376'), { name: 'UsageError' });
  assert.throws(() => parseTarget('tcp://h:2376/v1.41'), { name: 'UsageError' });
  assert.equal(serverName('::1'), '');
  assert.equal(serverName('127.0.0.1'), '');
  assert.equal(serverName('docker.example.com'), 'docker.example.com');
});
