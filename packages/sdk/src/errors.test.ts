import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fromBase64, toBase64 } from './base64.js';
import { toBody } from './body.js';
import { AmberError, errorFromResponse } from './errors.js';

describe('errorFromResponse', () => {
  it('takes code and message from the API error body', async () => {
    const res = new Response(
      JSON.stringify({ error: { code: 'invalid_state', message: 'sandbox x is paused' } }),
      {
        status: 409,
      },
    );
    const err = await errorFromResponse(res);
    assert.ok(err instanceof AmberError);
    assert.deepEqual([err.code, err.status, err.message], ['invalid_state', 409, 'sandbox x is paused']);
  });

  it('falls back to the status for a body that is not the API shape', async () => {
    const err = await errorFromResponse(new Response('<html>bad gateway</html>', { status: 502 }));
    assert.equal(err.code, 'internal');
    assert.equal(err.status, 502);
    assert.match(err.message, /HTTP 502.*bad gateway/);
    assert.equal((await errorFromResponse(new Response('', { status: 404 }))).code, 'not_found');
  });
});

describe('base64', () => {
  it('round-trips every byte value and large buffers', () => {
    const bytes = new Uint8Array(300_000).map((_, i) => (i * 7) % 256);
    const text = toBase64(bytes);
    assert.equal(text, Buffer.from(bytes).toString('base64'));
    assert.deepEqual(fromBase64(text), bytes);
  });
});

describe('toBody', () => {
  it('streams an async iterable chunk by chunk, pulling only when read', async () => {
    let produced = 0;
    async function* chunks() {
      for (let i = 0; i < 3; i++) {
        produced++;
        yield new Uint8Array([i]);
      }
    }
    const body = toBody(chunks()) as ReadableStream<Uint8Array>;
    assert.ok(body instanceof ReadableStream);
    const reader = body.getReader();
    const first = await reader.read();
    assert.deepEqual(first.value, new Uint8Array([0]));
    assert.ok(produced < 3, 'the source is not drained ahead of the reader');
    const rest: number[] = [];
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      rest.push(...value);
    }
    assert.deepEqual(rest, [1, 2]);
  });
});
