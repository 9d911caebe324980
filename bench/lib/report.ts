/** One JSON line per metric on stdout; ratio is "how many times better than the baseline". */
export function report(
  metric: string,
  value: number,
  unit: string,
  baseline?: { value: number; ratio: number },
): void {
  const line: Record<string, unknown> = { metric, value: round(value), unit };
  if (baseline) {
    line.baseline = round(baseline.value);
    line.ratio = round(baseline.ratio);
  }
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] ?? Number.NaN;
}

export function median(values: number[]): number {
  return percentile(values, 50);
}

export function progress(message: string): void {
  process.stderr.write(`  ${message}\n`);
}
