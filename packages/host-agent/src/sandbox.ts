import { setMaxListeners } from 'node:events';
import { join } from 'node:path';
import type { Pager } from '@amber/pager';
import type { Vm, VmSpec } from '@amber/vmm';
import type { VmCgroup } from './cgroups.js';
import type { EnvdClient } from './envd/envd-client.js';
import type { Egress } from './network/egress.js';
import type { EgressRules } from './network/egress-rules.js';
import { type NetworkSlot, namespacePrefix } from './network/network-slot.js';

export type SandboxState =
  | 'starting'
  | 'running'
  | 'pausing'
  | 'paused'
  | 'resuming'
  | 'stopping'
  | 'stopped'
  | 'error';

/** What survives an agent restart (sandbox.json). */
export interface SandboxRecord {
  id: string;
  state: SandboxState;
  vcpus: number;
  memoryMib: number;
  template: string;
  metadata: Record<string, string>;
  createdAtMs: number;
  expiresAtMs: number;
  ttlSeconds: number;
  error: string;
  imageId: string;
  /** QEMU's pid while it runs, to find (and adopt or kill) it after an agent restart. */
  qemuPid?: number;
  /** Memory is served lazily by a pager (after a restore), which a restarted agent must replace. */
  lazyMemory?: boolean;
  /** While it runs: what a restarted agent needs to adopt its VM (adoption.ts). */
  live?: LiveRecord;
  /** Outbound internet through NAT (network/egress.ts); off: no route out of its namespace at all. */
  allowInternet?: boolean;
  /** Outbound rules on that way out (E2B's allowOut/denyOut), re-applied in every new namespace. */
  egressRules?: EgressRules;
  /** Memory generations in the committed snapshot chain (0 before the first pause). */
  generations?: number;
}

/** The running VM's resources by name, as written in the record. */
export interface LiveRecord {
  /** How QEMU was launched; its disk is read back from QEMU itself at adoption. */
  vm: VmSpec;
  /** The writable disk overlay the record was written with: a different one in QEMU means a capture was
   *  under way, and the VM is not adopted. */
  disk: string;
  netns: string;
  egress?: Egress;
  cgroup?: VmCgroup;
  /** Memory is served by a pager, listening for the shim on this socket. */
  pagerSocket?: string;
}

/** The record's view of a runtime. */
export function liveRecord(runtime: SandboxRuntime): LiveRecord {
  return {
    vm: runtime.vm.spec,
    disk: runtime.disk,
    netns: runtime.slot.netns,
    ...(runtime.egress && { egress: runtime.egress }),
    ...(runtime.cgroup && { cgroup: runtime.cgroup }),
    ...(runtime.pager && { pagerSocket: runtime.pager.socketPath }),
  };
}

/** Live resources of a running sandbox; absent when paused, stopped or failed. */
export interface SandboxRuntime {
  vm: Vm;
  slot: NetworkSlot;
  envd: EnvdClient;
  /** The way out of its namespace, if it has internet. */
  egress?: Egress;
  /** QEMU's cgroup (limits); absent where the host has none. */
  cgroup?: VmCgroup;
  /** The VM's writable disk overlay. */
  disk: string;
  /** Serves guest memory from the snapshot and tracks writes; absent after a cold boot. */
  pager?: Pager;
  /** Written ranges taken from the pager by a capture that then failed; the next capture includes them. */
  carriedDirty?: Array<[number, number]>;
  /** Aborted when the VM goes (paused, destroyed, died): ends the calls still streaming from its guest. */
  gone: AbortController;
  /** Set while the agent itself is stopping the VM, so its exit is not reported as a crash. */
  expectedExit: boolean;
  /** After a restore: whether envd first answered on the connection kept in the snapshot, or a new one. */
  envdConnection?: 'resumed' | 'new';
}

/**
 * A runtime's `gone`. Every call streaming from its guest listens on it (each tunnel connection, each
 * exec), so more than Node's default of 10 listeners at once is normal, not a leak.
 */
export function goneController(): AbortController {
  const gone = new AbortController();
  setMaxListeners(0, gone.signal);
  return gone;
}

export interface Sandbox extends SandboxRecord {
  runtime?: SandboxRuntime;
}

export function sandboxPaths(home: string, shmDir: string, id: string) {
  const dir = join(home, 'sandboxes', id);
  return {
    dir,
    record: join(dir, 'sandbox.json'),
    run: join(dir, 'run'),
    snapshot: join(dir, 'snapshot'),
    pagerSocket: join(dir, 'run', 'pager.sock'),
    // Named with the agent's prefix: several agents share /dev/shm, and each removes only its own leftovers.
    memory: join(shmDir, `${namespacePrefix(home)}${id}.mem`),
  };
}

export type SandboxPaths = ReturnType<typeof sandboxPaths>;
