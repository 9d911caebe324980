// Every way a header can be wrong gives a MemsnapError with a stable code and a message naming the
// file, the entry and its offset.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ZERO_BUILD_ID } from './build-id.js';
import { MemsnapError, type MemsnapErrorCode } from './errors.js';
import type { Header } from './header.js';
import { encodeHeader, parseHeader, serializeHeader } from './header-codec.js';

const A = 'aaaaaaaa-0000-4000-8000-000000000001';
const B = 'bbbbbbbb-0000-4000-8000-000000000002';
const K = 4096;

function header(mappings: Header['mappings'], over: Partial<Header> = {}): Header {
  return {
    version: 3,
    blockSize: K,
    size: 8 * K,
    generation: 1,
    buildId: B,
    baseBuildId: A,
    mappings,
    ...over,
  };
}

const good = header([
  { offset: 0, length: 2 * K, buildId: A, storageOffset: 0 },
  { offset: 2 * K, length: 2 * K, buildId: ZERO_BUILD_ID, storageOffset: 0 },
  { offset: 4 * K, length: 4 * K, buildId: B, storageOffset: 0 },
]);

function rejects(buf: Buffer, code: MemsnapErrorCode, ...mentions: RegExp[]): MemsnapError {
  let caught: unknown;
  try {
    parseHeader(buf, { file: '/snap/memfile.header' });
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof MemsnapError, `expected a MemsnapError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  assert.match(caught.message, /\/snap\/memfile\.header/);
  assert.equal(caught.file, '/snap/memfile.header');
  for (const m of mentions) assert.match(caught.message, m);
  return caught;
}

test('round trip of a valid header', () => {
  assert.deepEqual(parseHeader(serializeHeader(good)), good);
});

test('truncated headers: too short for a version, for the metadata, or a partial entry', () => {
  const bytes = serializeHeader(good);
  rejects(bytes.subarray(0, 5), 'truncated_header', /5 bytes/);
  rejects(bytes.subarray(0, 63), 'truncated_header', /63 bytes/);
  const e = rejects(
    bytes.subarray(0, 64 + 40 + 17),
    'truncated_header',
    /mapping 1 at byte 104/,
    /17 of its 40/,
  );
  assert.equal(e.entry, 1);
  assert.equal(e.offset, 104);
  rejects(bytes.subarray(0, bytes.length - 1), 'truncated_header', /mapping 2/);
});

test('unknown versions are refused before the layout is trusted', () => {
  for (const version of [0, 2, 4, 1000]) {
    const bytes = encodeHeader({ ...good, version });
    rejects(bytes, 'unknown_version', new RegExp(`version ${version}`));
    rejects(bytes.subarray(0, 20), 'unknown_version');
  }
});

test('block sizes that are not powers of two >= 4096', () => {
  for (const blockSize of [0, 512, 2048, 6144, 4097]) {
    rejects(encodeHeader({ ...good, blockSize, mappings: [] }), 'bad_block_size', new RegExp(`${blockSize}`));
  }
});

test('memory size not a multiple of the block size', () => {
  rejects(encodeHeader(header([], { size: K + 1 })), 'bad_size');
});

test('numbers beyond 2^53 - 1 are refused, not rounded', () => {
  const bytes = serializeHeader(good);
  bytes.writeBigUInt64LE(2n ** 53n, 64 + 40 + 8); // mapping 1's length
  const e = rejects(bytes, 'number_too_large', /mapping 1 length/);
  assert.equal(e.entry, 1);
});

test('unsorted, overlapping, gapped, short and long coverage', () => {
  const m = good.mappings;
  const at = (i: number) => m[i] as Header['mappings'][number];
  let e = rejects(
    encodeHeader(header([at(0), at(2), at(1)])),
    'unsorted_mappings',
    /mapping 2 at offset 8192/,
  );
  assert.equal(e.entry, 2);
  assert.equal(e.offset, 8192);
  e = rejects(
    encodeHeader(header([at(0), { ...at(1), offset: K, length: 3 * K }, at(2)])),
    'overlapping_mappings',
    /mapping 1 at offset 4096 \(0x1000\)/,
  );
  assert.equal(e.entry, 1);
  e = rejects(encodeHeader(header([at(0), at(2)])), 'mapping_gap', /mapping 1 at offset 16384/, /0x2000/);
  assert.equal(e.offset, 16384);
  rejects(encodeHeader(header([at(0), at(1)])), 'bad_coverage', /memory size is 32768/);
  rejects(encodeHeader(header([at(0), at(1), { ...at(2), length: 5 * K }])), 'bad_coverage', /mapping 2/);
  rejects(encodeHeader(header([])), 'bad_coverage', /no mappings/);
  rejects(encodeHeader(header([{ ...at(0), offset: K }, at(1), at(2)])), 'mapping_gap', /mapping 0/);
});

test('unaligned and empty mappings', () => {
  const [m0, m1, m2] = good.mappings as [
    Header['mappings'][number],
    Header['mappings'][number],
    Header['mappings'][number],
  ];
  rejects(
    encodeHeader(
      header([{ ...m0, length: 2 * K - 512 }, { ...m1, offset: 2 * K - 512, length: 2 * K + 512 }, m2]),
    ),
    'unaligned_mapping',
    /mapping 0 at offset 0/,
  );
  rejects(
    encodeHeader(header([m0, m1, { ...m2, storageOffset: 100 }])),
    'unaligned_mapping',
    /mapping 2/,
    /storage/,
  );
  rejects(
    encodeHeader(header([m0, { ...m1, length: 0 }, { ...m1 }, m2])),
    'empty_mapping',
    /mapping 1 at offset 8192/,
  );
});

test('a generation whose own build id is zero', () => {
  rejects(encodeHeader({ ...good, buildId: ZERO_BUILD_ID }), 'bad_build_id');
});

test('serializeHeader validates, including canonical lowercase build ids', () => {
  assert.throws(() => serializeHeader({ ...good, buildId: B.toUpperCase() }), { code: 'bad_build_id' });
  assert.throws(() => serializeHeader(header([])), { code: 'bad_coverage' });
  assert.throws(() => serializeHeader({ ...good, version: 4 }), { code: 'unknown_version' });
});

test('validate: false returns a broken header for inspection', () => {
  const h = parseHeader(encodeHeader(header([])), { validate: false });
  assert.equal(h.mappings.length, 0);
});
