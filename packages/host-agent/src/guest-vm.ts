import type { Image } from '@amber/image';
import type { DiskSpec, VmSpec } from '@amber/vmm';
import type { AgentConfig } from './config.js';
import { kernelNetArgs, type NetworkSlot } from './network/network-slot.js';

// The boot-time trims (crypto self-tests, extra UARTs, entropy wait) took ~0.5 s off a TCG boot. psi=0:
// pressure accounting runs on every context switch, ~150 more translation blocks after each restore.
export const GUEST_CMDLINE = [
  'console=ttyS0 quiet mitigations=off tsc=reliable no_timer_check panic=-1 psi=0',
  'cryptomgr.notests 8250.nr_uarts=1 random.trust_cpu=on amber.hostname=amber',
].join(' ');

/** What a VM must match to serve a snapshot: size, image, machine type and the one optional device. */
export interface VmShape {
  vcpus: number;
  memoryMib: number;
  image: Image;
  /** The versioned machine type (config.machine for new VMs, the snapshot's own for a restore). */
  machine: string;
  /**
   * QEMU's HPET. Off: the guest's kernel leaves it an idle broadcast timer, yet QEMU's emulation woke the
   * main loop every 4 ms (255 wake-ups a second per idle guest, against 26 without; measured). On only for
   * snapshots taken with it (before it was turned off), or with `guestHpet`.
   */
  hpet?: boolean;
}

/** The machine a new guest gets; its snapshots then carry it (`savedMachine`). */
export function newGuestMachine(config: AgentConfig): { machine: string; hpet: boolean } {
  return { machine: config.machine, hpet: config.guestHpet };
}

export function vmSpec(
  config: AgentConfig,
  shape: VmShape,
  place: { runDir: string; memoryFile: string },
  slot: NetworkSlot,
  disk: DiskSpec,
): VmSpec {
  return {
    runDir: place.runDir,
    vcpus: shape.vcpus,
    memoryMib: shape.memoryMib,
    kernel: shape.image.kernel,
    initrd: shape.image.initrd,
    cmdline: `${GUEST_CMDLINE} ${kernelNetArgs()}`,
    disk,
    memoryFile: place.memoryFile,
    network: { netns: slot.netns, tap: slot.tap, mac: slot.mac },
    accel: config.accel,
    tcgCacheMib: config.tcgCacheMib,
    machine: shape.machine,
    ...(shape.hpet && { hpet: true }),
  };
}
