// Builds a multi-generation snapshot chain for tests, together with the memory it must reproduce.
// Generation 0 holds every non-zero page; each later generation holds a random set of re-written pages
// (some of them zero, written as data: "unchanged" is never inferred from "zero").

import { randomBytes, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { rng } from '@amber/native/testing';
import { ZERO_BUILD_ID } from '../block-table.js';
import type { ServedHeader, SnapshotSource } from '../snapshot-source.js';

const PAGE = 4096;

export interface Chain {
  source: SnapshotSource;
  /** The guest memory the chain resolves to. */
  reference: Buffer;
  /** Pages rewritten by each generation after the first. */
  rewritten: number[][];
}

export function buildChain(dir: string, size: number, generations: number, seed = 1): Chain {
  const pages = size / PAGE;
  const rand = rng(seed);
  const reference = Buffer.alloc(size);
  // Per page: which generation's file and where in it (-1 = zero).
  const owner: Array<{ id: string; storage: number }> = new Array(pages);
  const rewritten: number[][] = [];
  let buildId = '';
  for (let gen = 0; gen < generations; gen++) {
    buildId = randomUUID();
    const chosen: number[] = [];
    for (let p = 0; p < pages; p++) {
      if (gen === 0 ? true : rand() < 0.08) chosen.push(p);
    }
    const parts: Buffer[] = [];
    for (const p of chosen) {
      const zero = rand() < (gen === 0 ? 0.25 : 0.1);
      const content = zero ? Buffer.alloc(PAGE) : randomBytes(PAGE);
      content.copy(reference, p * PAGE);
      if (gen === 0 && zero) {
        owner[p] = { id: ZERO_BUILD_ID, storage: 0 };
        continue;
      }
      owner[p] = { id: buildId, storage: parts.length * PAGE };
      parts.push(content);
    }
    if (gen > 0) rewritten.push(chosen);
    writeFileSync(join(dir, `memfile.${buildId}`), Buffer.concat(parts));
  }
  const mappings: ServedHeader['mappings'][number][] = [];
  for (let p = 0; p < pages; p++) {
    const o = owner[p] as { id: string; storage: number };
    const last = mappings.at(-1);
    if (
      last &&
      last.buildId === o.id &&
      (o.id === ZERO_BUILD_ID || last.storageOffset + last.length === o.storage)
    ) {
      last.length += PAGE;
    } else {
      mappings.push({ offset: p * PAGE, length: PAGE, buildId: o.id, storageOffset: o.storage });
    }
  }
  const header: ServedHeader = { size, generation: generations - 1, buildId, mappings };
  return { source: { header, dataFilePath: (id) => join(dir, `memfile.${id}`) }, reference, rewritten };
}
