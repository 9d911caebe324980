// Human-readable numbers and times for tables.
import { formatBytes as bytes } from '@amber/sdk';

export { bytes };

/**
 * A template's size on the host: memory data plus its own disk layers, and the two apart for a second line.
 * Either unknown (null: the agent could not say) makes the total unknown too, rather than too small.
 */
export function templateSize(t: { memoryBytes: number | null; diskBytes: number | null }): {
  total: string;
  detail: string;
} {
  const part = (n: number | null) => (n === null ? 'unknown' : bytes(n));
  return {
    total: t.memoryBytes === null || t.diskBytes === null ? '—' : bytes(t.memoryBytes + t.diskBytes),
    detail: `memory ${part(t.memoryBytes)} · disk ${part(t.diskBytes)}`,
  };
}

export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

export function age(iso: string, now: number): string {
  return duration(now - Date.parse(iso));
}

/** Time until `iso`, or a dash when there is none (a paused sandbox's clock is stopped). */
export function timeLeft(iso: string | null, now: number): string {
  if (!iso) return '—';
  const left = Date.parse(iso) - now;
  return left <= 0 ? 'expiring' : duration(left);
}

/** `k=v, k2=v2` → `{k: 'v', k2: 'v2'}`; throws on a pair without `=`. */
export function parsePairs(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(/[,\n]/)) {
    const pair = part.trim();
    if (!pair) continue;
    const eq = pair.indexOf('=');
    if (eq < 1) throw new Error(`"${pair}" is not key=value`);
    out[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
  }
  return out;
}
