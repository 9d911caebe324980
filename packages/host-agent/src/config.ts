import { cpus, homedir, totalmem } from 'node:os';
import { join } from 'node:path';
import { type Accel, DEFAULT_TCG_CACHE_MIB, detectAccel } from '@amber/vmm';
import type { PrefetchPolicy } from './prefetch-policy.js';

export interface AgentConfig {
  /** $AMBER_HOME: sandboxes/, snapshots/, the agent socket. */
  home: string;
  /** Guest image cache (shared by every agent on the machine). */
  cacheDir: string;
  /** Where guest RAM files live; must be a tmpfs for speed (and for SEEK_DATA to find holes cheaply). */
  shmDir: string;
  /** `unix:<path>` or `<host>:<port>`. */
  listen: string;
  /** Required on the RPC when listening on anything but a unix socket or loopback. */
  token?: string;
  accel: Accel;
  memoryBudgetMib: number;
  maxVcpus: number;
  /**
   * `prefetch` applies to every restore (resume, template spawn, fork) that does not name one:
   * 'working-set' fetches the pages the last run touched first, then all others, in the background.
   */
  defaults: { vcpus: number; memoryMib: number; ttlSeconds: number; prefetch: PrefetchPolicy };
  maxTtlSeconds: number;
  minMemoryMib: number;
  /** A pause that makes the chain this long merges it into one generation. */
  generationCap: number;
  /** QEMU's TCG translation cache per VM (host memory on top of guest memory). */
  tcgCacheMib: number;
  /** Shapes (vcpus, memory, image) with a QEMU launched ahead for restores (vm-pool.ts); 0 turns it off. */
  vmPoolShapes: number;
  /** QEMUs kept launched ahead per pooled shape: the largest burst of restores that should not launch one. */
  vmPoolDepth: number;
  /**
   * Restores running at once. Under TCG a restore is CPU-bound (the guest runs emulated until its agent
   * answers): one more than the cores keeps them busy, and more only stretches every restore. Under KVM
   * a restore mostly waits, so many overlap.
   */
  maxConcurrentRestores: number;
  /**
   * How long a template's guest runs on after its last sync before it is captured (`TEMPLATE_SETTLE_MS`
   * says why); 0 under KVM, where what it lets finish costs a restored guest little.
   */
  templateSettleMs: number;
  /** Each QEMU in a cgroup of its own (cgroups.ts): CPU quota, memory cap, thread bound. */
  cgroups: boolean;
  /** New guests get QEMU's HPET (off by default: vmm's vm-spec.ts says why); a snapshot taken with one keeps it. */
  guestHpet: boolean;
  /**
   * QEMU machine type of new VMs: `pc`, which the agent resolves at start to its versioned name
   * (`pc-i440fx-10.0`). Their snapshots keep that type: a QEMU upgrade moves the alias, not the old type.
   */
  machine: string;
  /** Sandboxes get outbound internet (NAT) unless their spec says otherwise. */
  allowInternetByDefault: boolean;
  /** How long a boot or restore may take to reach a healthy guest agent (TCG is slow; KVM ~10x faster). */
  bootTimeoutMs: number;
  /** Destinations (CIDRs) sandboxes with internet may reach; empty: everywhere but the host and each other. */
  egressAllow: string[];
  /**
   * How long a lazily restored VM waits for a restarted agent's pager after its own went (adoption.ts);
   * its page faults block meanwhile. Past it, QEMU ends and the sandbox falls back to its last snapshot.
   */
  pagerReconnectMs: number;
}

/**
 * A template captured right after its guest's sync carries the housekeeping that sync started (RCU
 * callbacks, writeback-throttling windows, the block layer's request-timeout check) into every spawn, where
 * an emulating hypervisor translates it all afresh. Paired on TCG (medians of 10 spawns from each of two
 * templates in one run), a spawned guest's vCPU to ready and in the 3 s after went 111.5 + 23.0 -> 98.4 +
 * 21.9 ms with 1.5 s, and 105 + 31.7 -> 97 + 21.1 ms with 6 s, which waits out the block layer's check
 * too (armed up to 6 s after a request); 1.5 s against 6 s measured alike (102 + 21.0 against 104 + 22.5).
 */
const TEMPLATE_SETTLE_MS = 1500;

function numberFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`${name} must be a positive number, got "${raw}"`);
  return value;
}

function countFromEnv(name: string, fallback: number, min = 0): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min)
    throw new Error(`${name} must be a whole number (${min} or more), got "${raw}"`);
  return value;
}

function validCidr(cidr: string): string {
  if (!/^\d{1,3}(\.\d{1,3}){3}(\/\d{1,2})?$/.test(cidr))
    throw new Error(`AMBER_EGRESS_ALLOW must list IPv4 CIDRs, got "${cidr}"`);
  return cidr;
}

function switchFromEnv(name: string, fallback: boolean): boolean {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  if (raw === 'on' || raw === '1' || raw === 'true') return true;
  if (raw === 'off' || raw === '0' || raw === 'false') return false;
  throw new Error(`${name} must be on or off, got "${raw}"`);
}

function prefetchFromEnv(): PrefetchPolicy {
  const raw = process.env.AMBER_DEFAULT_PREFETCH ?? 'working-set';
  if (raw !== 'none' && raw !== 'all' && raw !== 'working-set')
    throw new Error(`AMBER_DEFAULT_PREFETCH must be none, all or working-set, got "${raw}"`);
  return raw;
}

/**
 * Defaults from the environment. The memory budget leaves the host 2 GiB (or a quarter, on small
 * machines) for itself, page cache and QEMU's own overhead.
 */
export function loadConfig(overrides: Partial<AgentConfig> = {}): AgentConfig {
  const home = overrides.home ?? process.env.AMBER_HOME ?? join(homedir(), '.amber');
  const totalMib = Math.floor(totalmem() / 1024 / 1024);
  const reserve = Math.min(2048, Math.floor(totalMib / 4));
  const token = process.env.AMBER_AGENT_TOKEN;
  const accel = detectAccel();
  return {
    home,
    cacheDir: process.env.AMBER_CACHE_DIR ?? '/var/cache/amber',
    shmDir: process.env.AMBER_SHM_DIR ?? '/dev/shm',
    listen: process.env.AMBER_AGENT_LISTEN ?? `unix:${join(home, 'agent.sock')}`,
    ...(token && { token }),
    accel,
    memoryBudgetMib: numberFromEnv('AMBER_MEMORY_BUDGET_MIB', totalMib - reserve),
    maxVcpus: Math.max(1, cpus().length * 4),
    defaults: {
      vcpus: 1,
      memoryMib: numberFromEnv('AMBER_DEFAULT_MEMORY_MIB', 512),
      ttlSeconds: numberFromEnv('AMBER_DEFAULT_TTL_SECONDS', 300),
      prefetch: prefetchFromEnv(),
    },
    maxTtlSeconds: 24 * 3600,
    minMemoryMib: 128,
    generationCap: numberFromEnv('AMBER_GENERATION_CAP', 10),
    tcgCacheMib: numberFromEnv('AMBER_TCG_CACHE_MIB', DEFAULT_TCG_CACHE_MIB),
    vmPoolShapes: countFromEnv('AMBER_VM_POOL_SHAPES', 2),
    vmPoolDepth: countFromEnv('AMBER_VM_POOL_DEPTH', 2),
    maxConcurrentRestores: countFromEnv(
      'AMBER_MAX_CONCURRENT_RESTORES',
      accel === 'tcg' ? cpus().length + 1 : cpus().length * 4,
      1,
    ),
    templateSettleMs: countFromEnv('AMBER_TEMPLATE_SETTLE_MS', accel === 'tcg' ? TEMPLATE_SETTLE_MS : 0),
    cgroups: switchFromEnv('AMBER_CGROUPS', true),
    guestHpet: switchFromEnv('AMBER_GUEST_HPET', false),
    machine: 'pc',
    // On, as users expect; off under `node --test` (it sets NODE_TEST_CONTEXT for test files and whatever they
    // spawn), so no test's sandbox can send a packet beyond the machine unless the test turns it on.
    allowInternetByDefault: switchFromEnv(
      'AMBER_ALLOW_INTERNET',
      process.env.NODE_TEST_CONTEXT === undefined,
    ),
    bootTimeoutMs: numberFromEnv('AMBER_BOOT_TIMEOUT_SECONDS', 90) * 1000,
    egressAllow: (process.env.AMBER_EGRESS_ALLOW ?? '')
      .split(',')
      .map((cidr) => cidr.trim())
      .filter(Boolean)
      .map(validCidr),
    pagerReconnectMs: numberFromEnv('AMBER_ADOPT_WAIT_SECONDS', 120) * 1000,
    ...overrides,
  };
}
