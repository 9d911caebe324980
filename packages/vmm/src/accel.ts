import { accessSync, constants, readFileSync } from 'node:fs';

export type Accel = 'kvm' | 'tcg';

/**
 * KVM only where it really works: /dev/kvm usable and the CPU advertising vmx/svm. Some hosts expose a
 * paravirtual /dev/kvm (kvm_pvm) without them, under which stock guest kernels fail; those get TCG.
 * AMBER_ACCEL=kvm|tcg overrides the guess.
 */
export function detectAccel(env: NodeJS.ProcessEnv = process.env): Accel {
  const forced = env.AMBER_ACCEL;
  if (forced === 'kvm' || forced === 'tcg') return forced;
  if (forced) throw new Error(`AMBER_ACCEL must be kvm or tcg, not "${forced}"`);
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch {
    return 'tcg';
  }
  return /\b(vmx|svm)\b/.test(readFileSync('/proc/cpuinfo', 'utf8')) ? 'kvm' : 'tcg';
}

/**
 * Measured on TCG (512 MiB guest): a 32 MiB translation cache thrashes on the guest kernel plus node, so
 * an exec round trip took ~470 ms and boot ~7.1 s; 256 MiB gives ~60 ms and ~5.2 s for ~140 MiB more
 * host memory per VM.
 */
export const DEFAULT_TCG_CACHE_MIB = 256;

export function accelArgs(accel: Accel, vcpus: number, tcgCacheMib = DEFAULT_TCG_CACHE_MIB): string[] {
  if (accel === 'kvm') return ['-accel', 'kvm', '-cpu', 'host'];
  // One TCG thread per VM unless it has several vCPUs.
  return ['-accel', `tcg,thread=${vcpus > 1 ? 'multi' : 'single'},tb-size=${tcgCacheMib}`, '-cpu', 'max'];
}
