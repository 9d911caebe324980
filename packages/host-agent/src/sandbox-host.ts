import type { Image } from '@amber/image';
import type { ConcurrencyLimit } from './concurrency-limit.js';
import type { AgentConfig } from './config.js';
import type { KeyedMutex } from './keyed-mutex.js';
import type { MemoryBudget } from './memory-budget.js';
import type { Egress } from './network/egress.js';
import type { EgressRules } from './network/egress-rules.js';
import type { NetworkSlot } from './network/network-slot.js';
import type { NetworkSlotPool } from './network/slot-pool.js';
import type { Sandbox, SandboxPaths, SandboxRecord, SandboxRuntime } from './sandbox.js';
import type { VmPool } from './vm-pool.js';

/** What a new sandbox's record is made from (SandboxHost.register). */
export interface SandboxRegistration {
  vcpus: number;
  memoryMib: number;
  ttlSeconds: number;
  template: string;
  metadata: Record<string, string>;
  imageId: string;
  allowInternet: boolean;
  egressRules?: EgressRules;
}

/**
 * What the snapshot operations (sandbox-snapshots.ts) need from the owner of the sandboxes' state (the
 * manager), passed to them: data flows from the manager into its helpers, never back by import.
 */
export interface SandboxHost {
  readonly config: AgentConfig;
  readonly locks: KeyedMutex;
  readonly budget: MemoryBudget;
  readonly slots: NetworkSlotPool;
  readonly pool: VmPool;
  readonly restores: ConcurrencyLimit;
  readonly admissions: ConcurrencyLimit;
  imageFor(imageId: string): Promise<Image>;
  paths(id: string): SandboxPaths;
  get(id: string): Sandbox;
  record(sandbox: Sandbox): SandboxRecord;
  requireRunning(sandbox: Sandbox): SandboxRuntime;
  register(input: SandboxRegistration): Sandbox;
  reserveMemory(sandbox: Sandbox): void;
  attach(sandbox: Sandbox, runtime: SandboxRuntime): void;
  /** Gives the slot the sandbox will run in its way out (or none), before the guest runs. */
  openEgress(sandbox: Sandbox, slot: NetworkSlot): Promise<Egress | undefined>;
  release(sandbox: Sandbox): Promise<void>;
  forget(sandbox: Sandbox): Promise<void>;
  destroy(id: string): Promise<void>;
  persist(sandbox: Sandbox): Promise<void>;
  persistInBackground(sandbox: Sandbox): void;
}
