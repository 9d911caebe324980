import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { type ControlPlaneOptions, type RunningControlPlane, startControlPlane } from '../start.js';

export interface Reply {
  status: number;
  headers: Headers;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: test responses are checked field by field
  json: any;
}

export interface CallOptions {
  body?: unknown;
  /** Sent as is (not JSON-encoded). */
  raw?: string | Buffer | Uint8Array;
  key?: string | null;
  headers?: Record<string, string>;
}

/** A control plane with its own in-process agent in a temp home, over real HTTP. */
export interface Harness {
  cp: RunningControlPlane;
  home: string;
  call(method: string, path: string, options?: CallOptions): Promise<Reply>;
  /** Stops the control plane (and agent) but keeps the home, for a restart on the same state. */
  restart(extra?: Partial<ControlPlaneOptions>): Promise<void>;
  stop(): Promise<void>;
}

export async function startHarness(options: Partial<ControlPlaneOptions> = {}): Promise<Harness> {
  const home = await mkdtemp(join(tmpdir(), 'amber-cp-test-'));
  // Guest RAM in a directory of its own: an agent starting elsewhere on this machine clears the
  // sandbox RAM files it finds directly in /dev/shm, whoever they belong to.
  const shmDir = await mkdtemp('/dev/shm/cp-test-');
  const settings = (): ControlPlaneOptions => ({
    home,
    port: 0,
    log: pino({ level: process.env.AMBER_LOG_LEVEL ?? 'silent' }),
    ...options,
    agentConfig: {
      home,
      shmDir,
      listen: `unix:${join(home, 'agent.sock')}`,
      memoryBudgetMib: 3072,
      ...options.agentConfig,
    },
  });
  let cp = await startControlPlane(settings());
  const harness: Harness = {
    get cp() {
      return cp;
    },
    home,
    async call(method, path, call = {}) {
      const headers: Record<string, string> = { ...call.headers };
      const key = call.key === undefined ? cp.apiKey : call.key;
      if (key !== null) headers['x-api-key'] ??= key;
      let body: string | Buffer | Uint8Array | undefined;
      if (call.raw !== undefined) body = call.raw;
      else if (call.body !== undefined) {
        body = JSON.stringify(call.body);
        headers['content-type'] ??= 'application/json';
      }
      const res = await fetch(`${cp.url}${path}`, { method, headers, ...(body !== undefined && { body }) });
      const text = await res.text();
      let json: unknown;
      try {
        json = text ? JSON.parse(text) : undefined;
      } catch {
        json = undefined;
      }
      return { status: res.status, headers: res.headers, text, json };
    },
    async restart(extra = {}) {
      await cp.close();
      cp = await startControlPlane({ ...settings(), ...extra });
    },
    async stop() {
      const agent = cp.agent;
      // Everything the tests made goes, so no VM outlives the test file.
      if (agent)
        for (const sandbox of agent.manager.list())
          await agent.manager.destroy(sandbox.id).catch(() => undefined);
      await cp.close();
      await rm(home, { recursive: true, force: true });
      await rm(shmDir, { recursive: true, force: true });
    },
  };
  return harness;
}

/** Polls until `check` returns a value (not undefined) or the time is up. */
export async function eventually<T>(
  what: string,
  timeoutMs: number,
  check: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
