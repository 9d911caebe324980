import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { agentCall } from './agent-errors.js';
import type { AgentLink } from './agent-link.js';
import type { EventLog, TransitionTime } from './event-log.js';
import type { SandboxStore } from './sandbox-store.js';
import { SANDBOX_STATES, type SandboxState } from './sandbox-view.js';

export interface HostStats {
  hostId: string;
  accel: string;
  memory: { budgetMib: number; committedMib: number; freeMib: number };
  /** Every sandbox the agent holds, whoever's. */
  agentSandboxes: number;
  /** The caller's team's sandboxes by state (every state present, 0 when none). */
  sandboxesByState: Record<SandboxState, number>;
  /** Bytes on disk (hard-linked files counted once); null when the agent's home is not on this machine. */
  snapshotDisk: { templatesBytes: number; sandboxesBytes: number; totalBytes: number } | null;
  recentTransitions: TransitionTime[];
}

/** Allocated bytes under `dir`, each inode once (templates and forks are hard-linked clones). */
async function diskUsage(dir: string, seen: Set<string>): Promise<number> {
  let total = 0;
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      total += await diskUsage(path, seen);
      continue;
    }
    // A file may go between readdir and lstat (a pause finishing, a sandbox deleted): it counts as gone.
    const st = await lstat(path).catch(() => undefined);
    if (!st) continue;
    const inode = `${st.dev}:${st.ino}`;
    if (seen.has(inode)) continue;
    seen.add(inode);
    total += st.blocks * 512;
  }
  return total;
}

/** The Host page's numbers: the agent's memory budget, sandboxes by state, snapshot disk use, pause/resume times. */
export class HostStatsService {
  constructor(
    private readonly agent: AgentLink,
    private readonly store: SandboxStore,
    private readonly events: EventLog,
    /** The in-process agent's $AMBER_HOME, whose files this process can see. */
    private readonly agentHome: string | undefined,
  ) {}

  async stats(teamId: string, transitions: number): Promise<HostStats> {
    const [info, counts, recentTransitions, snapshotDisk] = await Promise.all([
      agentCall(() => this.agent.client.getHostInfo({})),
      this.store.countByState(teamId),
      this.events.recentTransitions(teamId, transitions),
      this.snapshotDisk(),
    ]);
    const sandboxesByState = Object.fromEntries(SANDBOX_STATES.map((s) => [s, 0])) as Record<
      SandboxState,
      number
    >;
    for (const { state, count } of counts)
      if (state in sandboxesByState) sandboxesByState[state as SandboxState] = count;
    const budgetMib = Number(info.memoryBudgetMib);
    const committedMib = Number(info.memoryCommittedMib);
    return {
      hostId: this.agent.hostId,
      accel: info.accel,
      memory: { budgetMib, committedMib, freeMib: Math.max(0, budgetMib - committedMib) },
      agentSandboxes: info.sandboxes,
      sandboxesByState,
      snapshotDisk,
      recentTransitions,
    };
  }

  private async snapshotDisk(): Promise<HostStats['snapshotDisk']> {
    if (!this.agentHome) return null;
    // Templates first: a sandbox's files that are links to a template's count as the template's.
    const seen = new Set<string>();
    const templatesBytes = await diskUsage(join(this.agentHome, 'templates'), seen);
    let sandboxesBytes = 0;
    const sandboxes = join(this.agentHome, 'sandboxes');
    const ids = await readdir(sandboxes).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [] as string[];
      throw err;
    });
    for (const id of ids) sandboxesBytes += await diskUsage(join(sandboxes, id, 'snapshot'), seen);
    return { templatesBytes, sandboxesBytes, totalBytes: templatesBytes + sandboxesBytes };
  }
}
