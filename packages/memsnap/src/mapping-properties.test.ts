// Property tests of the mapping algebra in memory (thousands of cases, seeded: MEMSNAP_SEED=<n> repeats
// a run; fast-check prints the seed and the shrunk counterexample on failure).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ZERO_BUILD_ID } from './build-id.js';
import type { Mapping } from './header.js';
import { mergeMappings, normalizeMappings } from './mappings.js';
import type { ByteRange } from './ranges.js';
import { propertySeed } from './test-support/fixture.js';
import { TagStore } from './test-support/tag-store.js';

const seed = propertySeed(20240611);

const writeArb = fc.record({ at: fc.nat(), count: fc.integer({ min: 1, max: 8 }), zero: fc.boolean() });
const opArb = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('write' as const),
      writes: fc.array(writeArb, { maxLength: 6 }),
      /** Blocks reported dirty although rewritten with the same bytes. */
      same: fc.array(fc.nat(), { maxLength: 3 }),
      /** Report the dirty set as sub-block byte ranges (widened) instead of block indices. */
      ranges: fc.boolean(),
      within: fc.nat(),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'merge' as const }) },
);

test('random writes over up to 12 generations with merges: every block resolves to the model', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 96 }),
      fc.constantFrom(4096, 8192, 65536),
      fc.array(fc.boolean(), { maxLength: 96 }),
      fc.array(opArb, { maxLength: 20 }),
      fc.nat(),
      (blocks, blockSize, baseData, ops, probeSeed) => {
        let nextTag = 1;
        const mem = Array.from({ length: blocks }, (_, i) => (baseData[i] ? nextTag++ : 0));
        const store = new TagStore(blockSize, mem);
        const probe = (b: number) => (b * 2654435761 + probeSeed) >>> 0;
        assert.deepEqual(store.resolve(probe), mem);
        for (const op of ops) {
          // DESIGN.md caps chains at 10; the test goes to 12 generations (0..11) before it must merge.
          if (op.kind === 'merge' || store.header.generation >= 11) {
            store.merge();
            assert.equal(store.header.generation, 0);
            assert.deepEqual(store.resolve(probe), mem);
            if (op.kind === 'merge') continue;
          }
          const dirty = new Set<number>();
          for (const w of op.writes) {
            for (let b = w.at % blocks; b < Math.min(blocks, (w.at % blocks) + w.count); b++) {
              mem[b] = w.zero ? 0 : nextTag++;
              dirty.add(b);
            }
          }
          for (const s of op.same) dirty.add(s % blocks);
          const sorted = [...dirty].sort((a, b) => a - b);
          const ranges: ByteRange[] | undefined = op.ranges
            ? sorted.map((b) => {
                const start = b * blockSize + (op.within % blockSize);
                return [start, Math.min(start + 1 + (op.within % 97), (b + 1) * blockSize)];
              })
            : undefined;
          const before = store.header.generation;
          store.writeDiff(mem, sorted, ranges);
          assert.equal(store.header.generation, before + 1);
          assert.deepEqual(store.resolve(probe), mem);
        }
      },
    ),
    { seed, numRuns: 4000 },
  );
});

/** Per-block owner of a mapping list (undefined = not covered): the naive model of mergeMappings. */
function owners(list: readonly Mapping[], blocks: number, bs: number): Array<string | undefined> {
  const out: Array<string | undefined> = new Array(blocks).fill(undefined);
  for (const m of list) {
    for (let off = m.offset; off < m.offset + m.length; off += bs) {
      out[off / bs] =
        m.buildId === ZERO_BUILD_ID ? 'zero' : `${m.buildId}@${m.storageOffset + (off - m.offset)}`;
    }
  }
  return out;
}

/** Sorted disjoint mappings with gaps, from cut points. */
const listArb = (ids: string[]) =>
  fc
    .array(
      fc.record({
        gap: fc.nat({ max: 3 }),
        len: fc.integer({ min: 1, max: 5 }),
        id: fc.constantFrom(...ids),
        storage: fc.nat({ max: 50 }),
      }),
      { maxLength: 12 },
    )
    .map((parts) => {
      const out: Mapping[] = [];
      let pos = 0;
      for (const p of parts) {
        pos += p.gap;
        out.push({
          offset: pos * 4096,
          length: p.len * 4096,
          buildId: p.id,
          storageOffset: p.id === ZERO_BUILD_ID ? 0 : p.storage * 4096,
        });
        pos += p.len;
      }
      return out;
    });

test('mergeMappings and normalizeMappings agree with a per-block model, gaps included', () => {
  const ids = [ZERO_BUILD_ID, 'aaaaaaaa-0000-4000-8000-000000000001', 'bbbbbbbb-0000-4000-8000-000000000002'];
  fc.assert(
    fc.property(listArb(ids), listArb(ids), (base, diff) => {
      const blocks = 120;
      const merged = mergeMappings(base, diff);
      const b = owners(base, blocks, 4096);
      const d = owners(diff, blocks, 4096);
      const expected = b.map((o, i) => d[i] ?? o);
      assert.deepEqual(owners(merged, blocks, 4096), expected);
      for (let i = 1; i < merged.length; i++) {
        const prev = merged[i - 1] as Mapping;
        assert.ok(prev.offset + prev.length <= (merged[i] as Mapping).offset, 'sorted and disjoint');
      }
      const normal = normalizeMappings(merged);
      assert.deepEqual(owners(normal, blocks, 4096), expected);
      assert.deepEqual(normalizeMappings(normal), normal, 'normalizing twice changes nothing');
      for (let i = 1; i < normal.length; i++) {
        const prev = normal[i - 1] as Mapping;
        const m = normal[i] as Mapping;
        const continues =
          prev.offset + prev.length === m.offset &&
          prev.buildId === m.buildId &&
          (m.buildId === ZERO_BUILD_ID || prev.storageOffset + prev.length === m.storageOffset);
        assert.ok(!continues, `entries ${i - 1} and ${i} should have been joined`);
      }
    }),
    { seed, numRuns: 3000 },
  );
});
