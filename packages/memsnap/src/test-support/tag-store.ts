// A snapshot chain in memory, built only from memsnap's pure functions (createMapping, mergeMappings,
// normalizeMappings, planMerge, the codec, lookup). A block's content is a tag (0 = all zero): the
// mapping algebra decides only which stored block a guest block resolves to, so tags check it exactly
// and cheaply enough for thousands of cases.
import assert from 'node:assert/strict';
import { newBuildId, ZERO_BUILD_ID } from '../build-id.js';
import { HEADER_VERSION, type Header } from '../header.js';
import { parseHeader, serializeHeader } from '../header-codec.js';
import { HeaderIndex, lookup } from '../lookup.js';
import { createMapping, mergeMappings, normalizeMappings } from '../mappings.js';
import { planMerge } from '../merge-plan.js';
import type { ByteRange } from '../ranges.js';

export class TagStore {
  /** buildId -> tag of each stored block, in storage order. */
  readonly files = new Map<string, number[]>();
  header: Header;

  constructor(
    readonly blockSize: number,
    mem: readonly number[],
  ) {
    const buildId = newBuildId();
    const data = indicesWhere(mem, (t) => t !== 0);
    const all =
      mem.length > 0
        ? [{ offset: 0, length: mem.length * blockSize, buildId: ZERO_BUILD_ID, storageOffset: 0 }]
        : [];
    this.files.set(
      buildId,
      data.map((i) => mem[i] as number),
    );
    this.header = this.#commit({
      version: HEADER_VERSION,
      blockSize,
      size: mem.length * blockSize,
      generation: 0,
      buildId,
      baseBuildId: buildId,
      mappings: normalizeMappings(mergeMappings(all, createMapping(data, blockSize, buildId))),
    });
  }

  /** A diff generation: `dirty` blocks take their tag from `mem` (zero tags become zero fill). */
  writeDiff(mem: readonly number[], dirty: readonly number[], asRanges: ByteRange[] | undefined): void {
    const buildId = newBuildId();
    const data = dirty.filter((i) => mem[i] !== 0);
    const zero = dirty.filter((i) => mem[i] === 0);
    // The data blocks as byte ranges (possibly sub-block, widened by createMapping) or as indices.
    const dataEntries = asRanges
      ? createMapping(
          asRanges.filter(([s]) => mem[Math.floor(s / this.blockSize)] !== 0),
          this.blockSize,
          buildId,
        )
      : createMapping(data, this.blockSize, buildId);
    this.files.set(
      buildId,
      data.map((i) => mem[i] as number),
    );
    const diff = mergeMappings(createMapping(zero, this.blockSize, ZERO_BUILD_ID), dataEntries);
    this.header = this.#commit({
      ...this.header,
      generation: this.header.generation + 1,
      buildId,
      mappings: normalizeMappings(mergeMappings(this.header.mappings, diff)),
    });
  }

  merge(): void {
    const buildId = newBuildId();
    const plan = planMerge(this.header.mappings, buildId);
    const out: number[] = new Array(plan.bytes / this.blockSize).fill(-1);
    for (const c of plan.copies) {
      const src = this.files.get(c.buildId) as number[];
      for (let k = 0; k < c.length / this.blockSize; k++) {
        out[c.to / this.blockSize + k] = src[c.from / this.blockSize + k] as number;
      }
    }
    assert.ok(!out.includes(-1), 'the merge plan fills its whole file');
    this.files.clear();
    this.files.set(buildId, out);
    this.header = this.#commit({
      ...this.header,
      generation: 0,
      buildId,
      baseBuildId: buildId,
      mappings: plan.mappings,
    });
  }

  /** Every block's tag through the header, by HeaderIndex and by lookup() on the header (which must agree). */
  resolve(probe: (block: number) => number): number[] {
    const index = new HeaderIndex(this.header);
    const bs = this.blockSize;
    const out: number[] = [];
    for (let b = 0; b < this.header.size / bs; b++) {
      const within = probe(b) % bs;
      const loc = index.lookup(b * bs + within);
      assert.deepEqual(lookup(this.header, b * bs + within), loc);
      assert.ok(loc.runLength >= bs - within);
      if (loc.buildId === ZERO_BUILD_ID) {
        out.push(0);
        continue;
      }
      assert.equal((loc.storageOffset - within) % bs, 0, 'storage offsets stay block-aligned');
      const tag = this.files.get(loc.buildId)?.[(loc.storageOffset - within) / bs];
      assert.ok(
        tag !== undefined,
        `block ${b} resolves into ${loc.buildId} at ${loc.storageOffset}, beyond the file`,
      );
      assert.notEqual(tag, 0, 'zero blocks are never stored');
      out.push(tag);
    }
    return out;
  }

  /** Every header goes through the codec: what is used next is what a reader would parse. */
  #commit(h: Header): Header {
    const parsed = parseHeader(serializeHeader(h));
    assert.deepEqual(parsed, h);
    assert.deepEqual(normalizeMappings(h.mappings), h.mappings, 'headers are kept normalized');
    return parsed;
  }
}

function indicesWhere(list: readonly number[], pred: (t: number) => boolean): number[] {
  const out: number[] = [];
  list.forEach((t, i) => {
    if (pred(t)) out.push(i);
  });
  return out;
}
