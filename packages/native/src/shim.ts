// The QEMU LD_PRELOAD shim and the helper program built next to the addon (binding.gyp).
import { fileURLToPath } from 'node:url';

/** Absolute path of qemu-uffd-shim.so, for LD_PRELOAD. */
export const shimPath = fileURLToPath(new URL('../build/Release/qemu-uffd-shim.so', import.meta.url));

/** Absolute path of uffd-helper, a stand-in for QEMU used by tests and benchmarks. */
export const uffdHelperPath = fileURLToPath(new URL('../build/Release/uffd-helper', import.meta.url));

/** Exit code of a shimmed process whose handoff failed (no pager, refused, timed out). */
export const SHIM_EXIT_HANDOFF_FAILED = 86;
/** Exit code of a shimmed process whose pager went away without detaching. */
export const SHIM_EXIT_PAGER_LOST = 87;

export interface ShimEnvOptions {
  /** The guest-RAM file QEMU maps (memory-backend-file mem-path). */
  memPath: string;
  /** The pager's unix socket. */
  socketPath: string;
  /** Register write-protect too, for dirty tracking. */
  trackDirty?: boolean;
  /** false: do not ask for WP_ASYNC (synchronous WP faults; for old kernels and tests). */
  wpAsync?: boolean;
  /** How long the shim waits to connect and for the pager's answer. Default 30 s. */
  timeoutMs?: number;
  /**
   * When the pager goes without a detach: wait this long for a new one on the same socket (faults block
   * meanwhile) before ending the process. Default 0: end it at once.
   */
  reconnectMs?: number;
}

/** Environment variables that make a process load the shim and hand its RAM file to a pager. */
export function shimEnv(opts: ShimEnvOptions): Record<string, string> {
  const env: Record<string, string> = {
    LD_PRELOAD: shimPath,
    AMBER_UFFD_MEM_PATH: opts.memPath,
    AMBER_UFFD_SOCKET: opts.socketPath,
    AMBER_UFFD_WP: opts.trackDirty ? '1' : '0',
  };
  if (opts.wpAsync === false) env.AMBER_UFFD_WP_ASYNC = '0';
  if (opts.timeoutMs !== undefined) env.AMBER_UFFD_TIMEOUT_MS = String(opts.timeoutMs);
  if (opts.reconnectMs) env.AMBER_UFFD_RECONNECT_MS = String(opts.reconnectMs);
  return env;
}

/** Absolute path of amber_guest.node on this host: the image copies it into the guest beside envd. */
export const guestAddonPath = fileURLToPath(new URL('../build/Release/amber_guest.node', import.meta.url));
