import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PagerError } from './errors.js';
import { parseHandoff } from './handoff-message.js';

const MiB = 1 << 20;
const msg = (v: unknown) => Buffer.from(JSON.stringify(v));

test("parses Firecracker's region list, sorted by guest offset", () => {
  const regions = parseHandoff(
    msg([
      { base_host_virt_addr: 0x7f0000200000, size: 2 * MiB, offset: 2 * MiB, page_size: 4096 },
      { base_host_virt_addr: 0x7f0000000000, size: 2 * MiB, offset: 0, page_size: 4096 },
    ]),
    4 * MiB,
  );
  assert.deepEqual(regions, [
    { base: 0x7f0000000000, size: 2 * MiB, offset: 0, pageSize: 4096 },
    { base: 0x7f0000200000, size: 2 * MiB, offset: 2 * MiB, pageSize: 4096 },
  ]);
});

test('accepts the legacy page_size_kib', () => {
  const [r] = parseHandoff(
    msg([{ base_host_virt_addr: 4096, size: 4096, offset: 0, page_size_kib: 4 }]),
    MiB,
  );
  assert.equal(r?.pageSize, 4096);
});

const cases: Array<[string, Buffer, string]> = [
  ['not JSON', Buffer.from('{"base_host_virt_addr": 1'), 'bad_handoff'],
  ['not an array', msg({ base_host_virt_addr: 4096 }), 'bad_handoff'],
  ['an empty array', msg([]), 'bad_handoff'],
  ['a missing field', msg([{ base_host_virt_addr: 4096, size: 4096, page_size: 4096 }]), 'bad_handoff'],
  [
    'a string number',
    msg([{ base_host_virt_addr: '4096', size: 4096, offset: 0, page_size: 4096 }]),
    'bad_handoff',
  ],
  [
    'huge pages',
    msg([{ base_host_virt_addr: 0, size: 2 * MiB, offset: 0, page_size: 2 * MiB }]),
    'bad_page_size',
  ],
  [
    '64 KiB pages (kib)',
    msg([{ base_host_virt_addr: 0, size: MiB, offset: 0, page_size_kib: 64 }]),
    'bad_page_size',
  ],
  [
    'unaligned base',
    msg([{ base_host_virt_addr: 100, size: 4096, offset: 0, page_size: 4096 }]),
    'bad_handoff',
  ],
  [
    'past the snapshot',
    msg([{ base_host_virt_addr: 0, size: 2 * MiB, offset: 0, page_size: 4096 }]),
    'layout_mismatch',
  ],
  [
    'overlapping regions',
    msg([
      { base_host_virt_addr: 0, size: 8192, offset: 0, page_size: 4096 },
      { base_host_virt_addr: 1 << 30, size: 8192, offset: 4096, page_size: 4096 },
    ]),
    'layout_mismatch',
  ],
];

for (const [name, data, code] of cases) {
  test(`rejects ${name} with ${code}`, () => {
    assert.throws(
      () => parseHandoff(data, MiB),
      (err: unknown) => err instanceof PagerError && err.code === code,
    );
  });
}
