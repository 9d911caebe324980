import assert from 'node:assert/strict';
import { test } from 'node:test';
import { guestRoute } from './install.js';
import { parseMetadataFilter } from './rest-list.js';
import { templateName } from './templates.js';
import { unmatched } from './unsupported-routes.js';
import { checkNetwork } from './validate.js';

test('guest routes: envd proxy by header, host routing by name, everything else is the API', () => {
  const id = 'abcdefghij0123456789';
  assert.deepEqual(
    guestRoute('/e2b/envd/process.Process/Start', { 'e2b-sandbox-id': id, 'e2b-sandbox-port': '49983' }),
    { sandboxId: id, port: 49983, path: '/process.Process/Start' },
  );
  assert.deepEqual(guestRoute('/e2b/envd/files?path=%2Fa', { 'e2b-sandbox-id': id }), {
    sandboxId: id,
    port: 49983,
    path: '/files?path=%2Fa',
  });
  assert.deepEqual(guestRoute('/x?y=1', { host: `8080-${id}.localhost:4280` }), {
    sandboxId: id,
    port: 8080,
    path: '/x?y=1',
  });
  assert.equal(guestRoute('/e2b/v2/sandboxes', { host: '127.0.0.1:4280' }), undefined);
  assert.equal(guestRoute('/e2b/envdx', {}), undefined);
  assert.equal(guestRoute('/', { host: '8080-short.localhost' }), undefined);
});

test('the metadata filter decodes as the SDK encodes it', () => {
  // What e2b@2.51.0 sends for {user: 'x y', 'k&=': 'v/?'}, after the query string's own decoding.
  const raw = new URLSearchParams('metadata=user%3Dx%252520y%26k%252526%25253D%3Dv%25252F%25253F').get(
    'metadata',
  );
  assert.deepEqual(parseMetadataFilter(raw ?? ''), { user: 'x y', 'k&=': 'v/?' });
});

test('template IDs: names, snapshot IDs with namespace and tag', () => {
  assert.equal(templateName('base'), 'base');
  assert.equal(templateName('snap1:default'), 'snap1');
  assert.equal(templateName('team/snap1:default'), 'snap1');
  assert.throws(() => templateName('snap1:v2'), /not supported by Amber/);
});

test('unsupported features answer 400 by name; unknown paths 404', () => {
  assert.equal(unmatched('POST', '/v3/templates').status, 400);
  assert.match(unmatched('POST', '/volumes').message, /volumes is not supported by Amber/);
  assert.match(unmatched('GET', '/secrets/abc').message, /secrets/);
  assert.equal(unmatched('GET', '/nothing-here').status, 404);
});

test("network: E2B's allowOut/denyOut and allow_internet_access as outbound rules", () => {
  assert.equal(checkNetwork(undefined, undefined), null);
  assert.equal(checkNetwork({ allowPublicTraffic: true }, true), null);
  assert.deepEqual(checkNetwork({ denyOut: ['0.0.0.0/0'], allowOut: ['203.0.113.9'] }, undefined), {
    allowOut: ['203.0.113.9/32'],
    denyOut: ['0.0.0.0/0'],
  });
  // No internet access is a denyOut of everything (replacing denyOut) that allowOut still opens, as E2B.
  assert.deepEqual(checkNetwork({ denyOut: ['1.2.3.4'], allowOut: ['8.8.8.8'] }, false), {
    allowOut: ['8.8.8.8/32'],
    denyOut: ['0.0.0.0/0'],
  });
  const refused = (network: unknown, message: RegExp) =>
    assert.throws(
      () => checkNetwork(network, undefined),
      (err: Error & { status?: number }) => err.status === 400 && message.test(err.message),
    );
  refused({ allowOut: ['1.1.1.1'] }, /allowOut needs denyOut/);
  refused({ allowOut: ['example.com'], denyOut: ['0.0.0.0/0'] }, /domain names are not supported by Amber/);
  refused({ denyOut: ['8.8.8.8:53'] }, /single ports are not supported/);
  refused({ egressProxy: { address: 'p:1080' } }, /network\.egressProxy is not supported by Amber/);
  refused('open', /network must be an object/);
  assert.throws(() => checkNetwork({}, 'no'), /allow_internet_access must be a boolean/);
});
