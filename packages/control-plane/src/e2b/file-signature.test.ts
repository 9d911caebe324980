import assert from 'node:assert/strict';
import { test } from 'node:test';
import { getSignature } from 'e2b';
import { fileSignature, signedFile, signedWith } from './file-signature.js';

// The SDK's own signer is the reference: a URL it signs must verify here, and nothing else may.
test('signatures made by the e2b SDK verify, with and without expiration and user', async () => {
  const token = 'tok-123';
  for (const [user, expirationInSeconds] of [
    [undefined, undefined],
    ['root', undefined],
    [undefined, 60],
  ] as const) {
    const sig = await getSignature({
      path: '/tmp/a b.txt',
      operation: 'write',
      user,
      expirationInSeconds,
      envdAccessToken: token,
    });
    const query = new URLSearchParams({ path: '/tmp/a b.txt', signature: sig.signature });
    if (user) query.set('username', user);
    if (sig.expiration) query.set('signature_expiration', String(sig.expiration));
    const file = signedFile(`/files?${query}`, 'POST');
    assert.ok(file, 'a signed URL is recognised');
    assert.equal(signedWith(file, token), true);
    assert.equal(signedWith(file, 'another-token'), false);
    assert.equal(signedWith({ ...file, operation: 'read' }, token), false, 'an upload URL does not download');
    assert.equal(signedWith({ ...file, path: '/etc/shadow' }, token), false, 'nor reach another path');
  }
});

test('an expired signature, an unsigned URL and other paths are refused', () => {
  const expired = { path: '/x', operation: 'read' as const, user: '', expiration: 1000 };
  const file = { ...expired, signature: fileSignature(expired, 't') };
  assert.equal(signedWith(file, 't', 999), true);
  assert.equal(signedWith(file, 't', 1001), false);
  assert.equal(signedFile('/files?path=/x', 'GET'), undefined);
  assert.equal(signedFile('/other?path=/x&signature=v1_abc', 'GET'), undefined);
});
