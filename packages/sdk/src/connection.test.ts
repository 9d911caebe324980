import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { DEFAULT_URL, isLoopback, resolveConnection } from './connection.js';
import './node.js';

describe('resolveConnection (Node entry)', () => {
  let home: string;
  const saved = { ...process.env };
  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'amber-sdk-conn-'));
  });
  after(async () => {
    await rm(home, { recursive: true, force: true });
  });
  beforeEach(async () => {
    for (const k of ['AMBER_URL', 'AMBER_API_KEY', 'AMBER_HOME']) delete process.env[k];
    process.env.AMBER_HOME = home;
    await rm(join(home, 'url'), { force: true });
    await rm(join(home, 'api-key'), { force: true });
  });
  after(() => {
    process.env = saved;
  });

  it('defaults to the local URL and no key when nothing is configured', async () => {
    const c = await resolveConnection();
    assert.equal(c.url, DEFAULT_URL);
    assert.equal(c.apiKey, undefined);
  });

  it('reads the key file and the URL file of a local instance', async () => {
    await writeFile(join(home, 'api-key'), 'e2b_0123\n', { mode: 0o600 });
    await writeFile(join(home, 'url'), 'http://127.0.0.1:5555\n');
    const c = await resolveConnection();
    assert.equal(c.url, 'http://127.0.0.1:5555');
    assert.equal(c.apiKey, 'e2b_0123');
  });

  it('never sends the local key file to a remote URL', async () => {
    await writeFile(join(home, 'api-key'), 'e2b_0123\n');
    process.env.AMBER_URL = 'https://amber.example.test/';
    const c = await resolveConnection();
    assert.equal(c.url, 'https://amber.example.test');
    assert.equal(c.apiKey, undefined);
  });

  it('prefers options over the environment over files', async () => {
    await writeFile(join(home, 'api-key'), 'e2b_file');
    process.env.AMBER_API_KEY = 'e2b_env';
    process.env.AMBER_URL = 'http://localhost:1234';
    assert.equal((await resolveConnection()).apiKey, 'e2b_env');
    const c = await resolveConnection({ apiKey: 'e2b_opt', url: 'http://127.0.0.1:9/' });
    assert.equal(c.apiKey, 'e2b_opt');
    assert.equal(c.url, 'http://127.0.0.1:9');
  });

  it('rejects a URL that does not parse with an AmberError', async () => {
    await assert.rejects(resolveConnection({ url: 'not a url' }), {
      name: 'AmberError',
      code: 'invalid_argument',
    });
  });

  it('tells loopback hosts from others', () => {
    assert.ok(isLoopback('http://127.0.0.1:4280'));
    assert.ok(isLoopback('http://localhost'));
    assert.ok(isLoopback('http://[::1]:80'));
    assert.ok(!isLoopback('http://10.0.0.1'));
    assert.ok(!isLoopback('http://127.example.test'));
  });
});
