import type { Logger } from 'pino';
import { isNotFound } from './agent-errors.js';
import { AGENT_TTL_SECONDS, type AgentLink } from './agent-link.js';
import { fromAgentState, type SandboxService } from './sandbox-service.js';
import type { TemplateService } from './templates.js';

/**
 * Makes the database agree with the agent, at start and periodically: a sandbox the agent no longer runs
 * becomes `stopped` (or `paused` if the agent holds it paused); a paused one is left alone; a sandbox the
 * agent runs but the database does not know is reported, then destroyed after a grace period.
 */
export class Reconciler {
  private timer: NodeJS.Timeout | undefined;
  private readonly unknownSince = new Map<string, number>();
  private running: Promise<void> | undefined;

  constructor(
    private readonly sandboxes: SandboxService,
    private readonly templates: TemplateService,
    private readonly agent: AgentLink,
    private readonly log: Logger,
    private readonly unknownGraceMs: number,
  ) {}

  start(intervalMs: number): void {
    this.timer = setInterval(
      () => void this.reconcile().catch((err) => this.log.error({ err }, 'reconcile failed')),
      intervalMs,
    );
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** One pass; concurrent callers share it. */
  reconcile(): Promise<void> {
    this.running ??= this.pass().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async pass(): Promise<void> {
    const store = this.sandboxes.store;
    const { sandboxes: onAgent } = await this.agent.client.listSandboxes({});
    const agentById = new Map(onAgent.map((s) => [s.id, s]));
    const rows = await store.onHost(this.agent.hostId);
    const known = new Set(rows.map((r) => r.id));
    for (const row of rows) {
      if (row.state === 'paused' || row.state === 'stopped' || row.state === 'error') continue;
      await this.sandboxes.locks.run(row.id, async () => {
        const current = await store.find(row.id);
        if (
          !current ||
          current.state === 'paused' ||
          current.state === 'stopped' ||
          current.state === 'error'
        )
          return;
        const found = agentById.get(row.id);
        if (!found) {
          this.log.warn({ sandbox: row.id, was: current.state }, 'the agent no longer runs this sandbox');
          await store.update(row.id, {
            state: 'stopped',
            expires_at: null,
            error: 'the host agent no longer runs it',
          });
          return;
        }
        const agentState = fromAgentState(found.state);
        if (agentState === 'running') {
          if (current.state !== 'running') {
            await store.update(row.id, {
              state: 'running',
              expires_at: Date.now() + Number(current.timeout_sec) * 1000,
            });
          }
          // The agent's TTL is only a safety net for a control plane that went away; keep it far off.
          await this.agent.client.ping({ sandboxId: row.id, ttlSeconds: AGENT_TTL_SECONDS }).catch((err) => {
            if (!isNotFound(err)) this.log.warn({ err, sandbox: row.id }, 'ping failed');
          });
        } else if (agentState === 'paused' || agentState === 'stopped' || agentState === 'error') {
          this.log.warn(
            { sandbox: row.id, was: current.state, now: agentState },
            'sandbox state taken from the agent',
          );
          await store.update(row.id, {
            state: agentState,
            expires_at: null,
            ...(found.error && { error: found.error }),
          });
        }
      });
    }
    const now = Date.now();
    for (const sandbox of onAgent) {
      const id = sandbox.id;
      const booting = fromAgentState(sandbox.state) === 'starting';
      if (booting || known.has(id) || this.sandboxes.creating.has(id) || this.templates.builders.has(id)) {
        this.unknownSince.delete(id);
        continue;
      }
      const since = this.unknownSince.get(id);
      if (since === undefined) {
        this.unknownSince.set(id, now);
        this.log.warn(
          { sandbox: id, graceMs: this.unknownGraceMs },
          'the agent runs a sandbox the database does not know',
        );
      } else if (now - since >= this.unknownGraceMs) {
        this.log.warn({ sandbox: id }, 'destroying a sandbox the database does not know');
        await this.agent.client.destroySandbox({ sandboxId: id }).catch((err) => {
          if (!isNotFound(err)) this.log.error({ err, sandbox: id }, 'could not destroy an unknown sandbox');
        });
        this.unknownSince.delete(id);
      }
    }
    for (const id of this.unknownSince.keys()) if (!agentById.has(id)) this.unknownSince.delete(id);
  }
}
