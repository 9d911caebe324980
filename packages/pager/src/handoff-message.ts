// Firecracker's handoff message: a JSON array of GuestRegionUffdMapping, sent with the userfaultfd.
import { PagerError } from './errors.js';

export const PAGE_SIZE = 4096;

/** One guest-RAM region as the faulting process maps it. */
export interface GuestRegionMapping {
  /** Host virtual address of the region in the faulting process. */
  base: number;
  size: number;
  /** Offset of the region in guest RAM (the RAM file). */
  offset: number;
  pageSize: number;
}

function field(entry: Record<string, unknown>, key: string, index: number): number {
  const v = entry[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new PagerError('bad_handoff', `handoff region ${index}: "${key}" must be a non-negative integer`);
  }
  return v;
}

/**
 * Validates the message (`page_size` in bytes, or the legacy `page_size_kib`) and returns the regions
 * sorted by guest offset. Throws PagerError bad_handoff / bad_page_size / layout_mismatch.
 */
export function parseHandoff(data: Buffer, memorySize: number): GuestRegionMapping[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(data.toString('utf8'));
  } catch (cause) {
    throw new PagerError('bad_handoff', `handoff message is not JSON (${data.length} bytes)`, { cause });
  }
  if (!Array.isArray(parsed) || parsed.length === 0) {
    throw new PagerError('bad_handoff', 'handoff message must be a non-empty JSON array of regions');
  }
  const regions = parsed.map((raw: unknown, i): GuestRegionMapping => {
    if (typeof raw !== 'object' || raw === null)
      throw new PagerError('bad_handoff', `handoff region ${i} is not an object`);
    const entry = raw as Record<string, unknown>;
    const pageSize =
      'page_size' in entry ? field(entry, 'page_size', i) : field(entry, 'page_size_kib', i) * 1024;
    if (pageSize !== PAGE_SIZE) {
      throw new PagerError(
        'bad_page_size',
        `handoff region ${i}: page size ${pageSize} is not supported (only 4096)`,
      );
    }
    const region = {
      base: field(entry, 'base_host_virt_addr', i),
      size: field(entry, 'size', i),
      offset: field(entry, 'offset', i),
      pageSize,
    };
    if (region.size === 0 || region.base % pageSize || region.size % pageSize || region.offset % pageSize) {
      throw new PagerError('bad_handoff', `handoff region ${i} is empty or not page aligned`);
    }
    return region;
  });
  regions.sort((a, b) => a.offset - b.offset);
  let end = 0;
  for (const r of regions) {
    if (r.offset < end) throw new PagerError('layout_mismatch', 'handoff regions overlap in guest memory');
    end = r.offset + r.size;
  }
  if (end > memorySize) {
    throw new PagerError(
      'layout_mismatch',
      `handoff maps guest memory up to ${end} bytes but the snapshot holds ${memorySize}`,
    );
  }
  return regions;
}
