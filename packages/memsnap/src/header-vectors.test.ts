// Byte-exact format check against vectors written by hand (test-vectors/*.hex), not by the codec.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ZERO_BUILD_ID } from './build-id.js';
import type { Header } from './header.js';
import { parseHeader, serializeHeader } from './header-codec.js';

function loadHex(name: string): Buffer {
  const text = readFileSync(new URL(`../test-vectors/${name}`, import.meta.url), 'utf8');
  const hex = text
    .split('\n')
    .map((line) => line.replace(/#.*/, ''))
    .join('')
    .replace(/\s+/g, '');
  assert.match(hex, /^([0-9a-f]{2})*$/, `${name} holds only hex byte pairs`);
  return Buffer.from(hex, 'hex');
}

const A = 'aaaaaaaa-0000-4000-8000-000000000001';
const B = 'bbbbbbbb-0000-4000-8000-000000000002';
const C = '01234567-89ab-cdef-0123-456789abcdef';

const vectors: Array<{ file: string; bytes: number; header: Header }> = [
  {
    file: 'single-zero-entry.hex',
    bytes: 104,
    header: {
      version: 3,
      blockSize: 4096,
      size: 65536,
      generation: 0,
      buildId: '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0',
      baseBuildId: '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0',
      mappings: [{ offset: 0, length: 65536, buildId: ZERO_BUILD_ID, storageOffset: 0 }],
    },
  },
  {
    file: 'three-entries-two-builds.hex',
    bytes: 184,
    header: {
      version: 3,
      blockSize: 4096,
      size: 40960,
      generation: 1,
      buildId: B,
      baseBuildId: A,
      mappings: [
        { offset: 0, length: 16384, buildId: A, storageOffset: 0 },
        { offset: 16384, length: 8192, buildId: B, storageOffset: 0 },
        { offset: 24576, length: 16384, buildId: A, storageOffset: 24576 },
      ],
    },
  },
  {
    file: 'large-offsets.hex',
    bytes: 144,
    header: {
      version: 3,
      blockSize: 2 * 1024 * 1024,
      size: 8 * 1024 ** 3,
      generation: 9,
      buildId: C,
      baseBuildId: A,
      mappings: [
        { offset: 0, length: 4 * 1024 ** 3, buildId: ZERO_BUILD_ID, storageOffset: 0 },
        { offset: 4 * 1024 ** 3, length: 4 * 1024 ** 3, buildId: C, storageOffset: 0x1_2340_0000 },
      ],
    },
  },
];

for (const v of vectors) {
  test(`vector ${v.file}: parses to the expected header and serializes back to the same bytes`, () => {
    const bytes = loadHex(v.file);
    assert.equal(bytes.length, v.bytes);
    assert.deepEqual(parseHeader(bytes, { file: v.file }), v.header);
    assert.deepEqual(serializeHeader(v.header), bytes);
  });
}
