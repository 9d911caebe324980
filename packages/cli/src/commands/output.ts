// Output for people (aligned tables, relative times) and for scripts (--json), shared by every API command.
import { formatBytes as sdkFormatBytes } from '@amber/sdk';
import { InvalidArgumentError } from 'commander';

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Left-aligned columns separated by two spaces, with an upper-case header row. */
export function formatTable(headers: string[], rows: string[][]): string {
  const all = [headers.map((h) => h.toUpperCase()), ...rows];
  const widths = headers.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all
    .map((r) =>
      r
        .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .map((line) => `${line}\n`)
    .join('');
}

export function printTable(headers: string[], rows: string[][], empty: string): void {
  process.stdout.write(rows.length === 0 ? `${empty}\n` : formatTable(headers, rows));
}

/** `key  value` lines, keys aligned. */
export function formatFields(fields: [string, string][]): string {
  const width = Math.max(...fields.map(([k]) => k.length));
  return fields.map(([k, v]) => `${k.padEnd(width)}  ${v}\n`).join('');
}

/** "3m ago", "in 4m 10s": people read durations faster than timestamps. */
export function relativeTime(iso: string | null, now = Date.now()): string {
  if (!iso) return '-';
  const ms = Date.parse(iso) - now;
  const s = Math.round(Math.abs(ms) / 1000);
  const text =
    s < 60
      ? `${s}s`
      : s < 3600
        ? `${Math.floor(s / 60)}m${s % 60 ? ` ${s % 60}s` : ''}`
        : s < 86400
          ? `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60) ? ` ${Math.floor((s % 3600) / 60)}m` : ''}`
          : `${Math.floor(s / 86400)}d`;
  return ms >= 0 ? `in ${text}` : `${text} ago`;
}

/** The SDK's byte format; "-" for an unknown size. */
export function formatBytes(n: number | null | undefined): string {
  return n === null || n === undefined ? '-' : sdkFormatBytes(n);
}

/** Commander collector for repeatable `--flag key=value`. */
export function collectPair(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError(`expected key=value, got ${value}`);
  return { ...previous, [value.slice(0, eq)]: value.slice(eq + 1) };
}

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`not a positive integer: ${value}`);
  return n;
}
