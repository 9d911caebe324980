import type { FaultServerStats } from '@amber/native';

export interface PagerStats extends FaultServerStats {
  /** Upper bounds of the latency buckets holding the median and the 99th percentile fault, in µs. */
  latencyP50Us: number;
  latencyP99Us: number;
}

/** Adds percentile estimates (bucket upper bounds) to the native counters. */
export function withPercentiles(s: FaultServerStats): PagerStats {
  return { ...s, latencyP50Us: percentile(s.latencyUs, 0.5), latencyP99Us: percentile(s.latencyUs, 0.99) };
}

function percentile(buckets: readonly number[], p: number): number {
  const total = buckets.reduce((a, b) => a + b, 0);
  if (total === 0) return 0;
  let seen = 0;
  for (let i = 0; i < buckets.length; i++) {
    seen += buckets[i] as number;
    if (seen >= total * p) return 2 ** (i + 1);
  }
  return 2 ** buckets.length;
}
