import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { homedir, hostname } from 'node:os';
import { join } from 'node:path';
import {
  type AgentConfig,
  connectHostAgent,
  type HostAgentConnection,
  KeyedMutex,
  type RunningAgent,
  startAgent,
} from '@amber/host-agent';
import type { FastifyInstance } from 'fastify';
import { type Logger, pino } from 'pino';
import { KeyStore } from './auth/key-store.js';
import { ensureDefaultKey } from './bootstrap.js';
import { type Db, openDatabase } from './db/connect.js';
import { buildApp } from './http/app.js';
import { Metrics } from './http/metrics.js';
import type { AgentLink } from './services/agent-link.js';
import { EventLog } from './services/event-log.js';
import { ExecService } from './services/exec-service.js';
import { ExecStreamService } from './services/exec-stream.js';
import { FileService } from './services/file-service.js';
import { HostStatsService } from './services/host-stats.js';
import { Reconciler } from './services/reconciler.js';
import { SandboxService } from './services/sandbox-service.js';
import { SandboxStore } from './services/sandbox-store.js';
import { DEFAULT_SHAPE, TemplateService } from './services/templates.js';
import { TimeoutPolicy } from './services/timeout-policy.js';
import { pauseForStop, resumeAfterStart } from './stop-resume.js';

/** How long a stop lets requests in flight finish before it cuts them. */
const CLOSE_GRACE_MS = 5_000;

export const VERSION = '0.1.0';
export const DEFAULT_PORT = 4280;

export interface ControlPlaneOptions {
  /** $AMBER_HOME (default ~/.amber): the SQLite database, the api-key file, and the agent's state. */
  home?: string;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** postgres://...: PostgreSQL; otherwise SQLite at $AMBER_HOME/amber.db. Default: $DATABASE_URL. */
  databaseUrl?: string;
  /** Connect to a running agent; without it an agent is started in this process. */
  agent?: { address: string; token?: string };
  /** Settings for the in-process agent. */
  agentConfig?: Partial<AgentConfig>;
  log?: Logger;
  logLevel?: string;
  /** How often expired sandboxes are looked for (default 1000 ms). */
  policyIntervalMs?: number;
  /** How often the database is compared with the agent (default 30 s). */
  reconcileIntervalMs?: number;
  /** How long an agent sandbox unknown to the database lives before it is destroyed (default 60 s). */
  unknownGraceMs?: number;
  /** Boot and freeze the default-shape `base` at start, in the background (default true). */
  prepareBase?: boolean;
  /** The built dashboard to serve at `/` (default: $AMBER_DASHBOARD_DIR, else packages/dashboard/dist). */
  dashboardDir?: string;
}

export interface RunningControlPlane {
  url: string;
  /** The default team's key, also in $AMBER_HOME/api-key. */
  apiKey: string;
  home: string;
  port: number;
  app: FastifyInstance;
  db: Db;
  /** The in-process agent, when this control plane started one. */
  agent?: RunningAgent;
  reconciler: Reconciler;
  policy: TimeoutPolicy;
  /**
   * Stops serving. With an in-process agent, running sandboxes are paused first (and resumed at the next
   * start), since a new agent cannot adopt VMs whose memory the old one served.
   */
  close(): Promise<void>;
}

function hostIdOf(address: string): string {
  return `host_${createHash('sha256').update(`${hostname()}\n${address}`).digest('hex').slice(0, 16)}`;
}

export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<RunningControlPlane> {
  const home = options.home ?? process.env.AMBER_HOME ?? join(homedir(), '.amber');
  await mkdir(home, { recursive: true, mode: 0o700 });
  const log = options.log ?? pino({ level: options.logLevel ?? process.env.AMBER_LOG_LEVEL ?? 'info' });
  let agent: RunningAgent | undefined;
  let connection: HostAgentConnection;
  let address: string;
  if (options.agent) {
    address = options.agent.address;
    connection = connectHostAgent(address, options.agent.token);
  } else {
    agent = await startAgent({
      config: { home, ...options.agentConfig },
      log: log.child({ component: 'agent' }),
    });
    address = agent.server.url;
    connection = agent.connectLocal();
  }
  const cleanups: Array<() => Promise<void> | void> = [() => connection.close()];
  if (agent) {
    const owned = agent;
    // The agent pauses its running sandboxes as it stops (and logs any it could not).
    cleanups.push(async () => {
      await owned.close();
    });
  }
  const cleanup = async () => {
    for (const fn of cleanups.reverse()) await fn();
  };
  try {
    const info = await connection.client.getHostInfo({});
    const link: AgentLink = {
      hostId: hostIdOf(address),
      client: connection.client,
      tunnelPath: info.tunnelPath || join(home, 'tunnel.sock'),
      imageId: info.imageId,
    };
    const db = await openDatabase({
      home,
      ...((options.databaseUrl ?? process.env.DATABASE_URL) && {
        databaseUrl: options.databaseUrl ?? process.env.DATABASE_URL,
      }),
    });
    cleanups.splice(1, 0, () => db.close());
    const now = Date.now();
    await db.db
      .insertInto('hosts')
      .values({
        id: link.hostId,
        address,
        image_id: info.imageId,
        memory_budget_mib: Number(info.memoryBudgetMib),
        created_at: now,
        last_seen_at: now,
      })
      .onConflict((oc) =>
        oc.column('id').doUpdateSet({
          image_id: info.imageId,
          memory_budget_mib: Number(info.memoryBudgetMib),
          last_seen_at: now,
        }),
      )
      .execute();
    const keys = new KeyStore(db.db, { log: log.child({ component: 'keys' }) });
    const { key } = await ensureDefaultKey(home, db, keys);
    const locks = new KeyedMutex();
    const store = new SandboxStore(db.db);
    const templates = new TemplateService(db.db, link, store, locks, log.child({ component: 'templates' }));
    const sandboxes = new SandboxService(
      store,
      templates,
      link,
      locks,
      log.child({ component: 'sandboxes' }),
    );
    const metrics = new Metrics(store);
    const reconciler = new Reconciler(
      sandboxes,
      templates,
      link,
      log.child({ component: 'reconciler' }),
      options.unknownGraceMs ?? 60_000,
    );
    const policy = new TimeoutPolicy(sandboxes, metrics, log.child({ component: 'timeout-policy' }));
    await templates.dropStaleBases();
    await reconciler.reconcile();
    await resumeAfterStart(sandboxes, log);
    if (options.prepareBase ?? true) {
      void templates.ensureBase(DEFAULT_SHAPE.vcpus, DEFAULT_SHAPE.memoryMb).catch((err) => {
        log.error({ err }, 'could not make the built-in base template; creates will try again');
      });
    }
    const events = new EventLog(db.db);
    const app = await buildApp(
      {
        keys,
        sandboxes,
        templates,
        execs: new ExecService(sandboxes, link),
        streams: new ExecStreamService(sandboxes, link, log.child({ component: 'exec-stream' })),
        files: new FileService(sandboxes, link),
        events,
        host: new HostStatsService(link, store, events, agent?.config.home),
        ...(options.dashboardDir && { dashboardDir: options.dashboardDir }),
        metrics,
        log,
        version: VERSION,
      },
      { agent: link, db: db.db },
    );
    const host = options.host ?? '127.0.0.1';
    await app.listen({ host, port: options.port ?? DEFAULT_PORT });
    const bound = app.server.address();
    const port = typeof bound === 'object' && bound ? bound.port : (options.port ?? DEFAULT_PORT);
    policy.start(options.policyIntervalMs ?? 1000);
    reconciler.start(options.reconcileIntervalMs ?? 30_000);
    const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
    log.info({ url, database: db.location, agent: address, host: link.hostId }, 'control plane ready');
    let closing: Promise<void> | undefined;
    return {
      url,
      apiKey: key,
      home,
      port,
      app,
      db,
      ...(agent && { agent }),
      reconciler,
      policy,
      close: () => {
        closing ??= (async () => {
          policy.stop();
          reconciler.stop();
          // A stream into a sandbox (a command's output, a watch) ends only when its sandbox pauses, which
          // comes after this: requests still open after a short grace are cut, or the stop would wait on them.
          const cut = setTimeout(() => app.server.closeAllConnections(), CLOSE_GRACE_MS);
          await app.close();
          clearTimeout(cut);
          await store.writeExactExpiries().catch((err) => {
            log.warn({ err }, 'could not write exact expiries; the database keeps bounds a little later');
          });
          if (agent) await pauseForStop(sandboxes, link.hostId, log);
          await cleanup();
        })();
        return closing;
      },
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
