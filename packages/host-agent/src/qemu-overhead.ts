import type { AgentConfig } from './config.js';

/**
 * Host memory a QEMU uses besides guest RAM. Measured here (TCG, 256-512 MiB guests, cgroup v1
 * max_usage_in_bytes minus guest pages): ~60-90 MiB of QEMU itself (libraries, device models, the I/O
 * thread) plus TCG's translation cache, which fills up to its tb-size as new guest code runs.
 */
const QEMU_BASE_MIB = 96;

/** A pooled QEMU, launched but not yet restored into: no guest page and little translated code. */
export const POOLED_QEMU_MIB = 48;

/** What a sandbox's QEMU may use on top of its guest RAM: its cgroup's cap and its budget share. */
export function qemuOverheadMib(config: Pick<AgentConfig, 'accel' | 'tcgCacheMib'>): number {
  return QEMU_BASE_MIB + (config.accel === 'tcg' ? config.tcgCacheMib : 0);
}
