// The dashboard's pure helpers: units, durations, the metadata box's `k=v` parsing and hash routes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { age, bytes, duration, parsePairs, templateSize, timeLeft } from '../src/format.js';
import { href, parseRoute } from '../src/router.js';

test('bytes and durations read like a person would write them', () => {
  assert.equal(bytes(777), '777 B');
  assert.equal(bytes(1536), '1.5 KiB');
  assert.equal(bytes(300 * 1024 * 1024), '300 MiB');
  assert.equal(duration(59_400), '59s');
  assert.equal(duration(61_000), '1m 01s');
  assert.equal(duration(3 * 3600_000 + 5 * 60_000), '3h 05m');
  assert.equal(duration(50 * 3600_000), '2d 2h');
  assert.equal(age('2026-01-01T00:00:00.000Z', Date.parse('2026-01-01T00:00:42.000Z')), '42s');
  assert.equal(timeLeft(null, 0), '—');
  assert.equal(timeLeft('2026-01-01T00:00:00.000Z', Date.parse('2026-01-01T00:00:01.000Z')), 'expiring');
});

test("a template's size: memory and disk summed, each apart, unknown never summed", () => {
  assert.deepEqual(templateSize({ memoryBytes: 40 * 1024 * 1024, diskBytes: 5 * 1024 * 1024 + 512 * 1024 }), {
    total: '46 MiB',
    detail: 'memory 40 MiB · disk 5.5 MiB',
  });
  assert.deepEqual(templateSize({ memoryBytes: 2048, diskBytes: null }), {
    total: '—',
    detail: 'memory 2.0 KiB · disk unknown',
  });
});

test('metadata pairs: commas or lines, spaces trimmed, a pair without = is an error', () => {
  assert.deepEqual(parsePairs(' a=1, b = x=y \n c='), { a: '1', b: 'x=y', c: '' });
  assert.deepEqual(parsePairs(''), {});
  assert.throws(() => parsePairs('a=1, oops'), /"oops" is not key=value/);
  assert.throws(() => parsePairs('=v'), /not key=value/);
});

test('hash routes round-trip, and anything unknown is the sandbox list', () => {
  assert.deepEqual(parseRoute(href.sandbox('abc def')), { page: 'sandbox', id: 'abc def' });
  assert.deepEqual(parseRoute('#/templates'), { page: 'templates' });
  assert.deepEqual(parseRoute('#/keys'), { page: 'keys' });
  assert.deepEqual(parseRoute('#/host'), { page: 'host' });
  assert.deepEqual(parseRoute(''), { page: 'sandboxes' });
  assert.deepEqual(parseRoute('#/nope/x'), { page: 'sandboxes' });
});
