import { HostAgentService, PrefetchPolicy, type WriteFileRequest } from '@amber/proto/hostagent';
import { ConnectError, type ConnectRouter, type ServiceImpl } from '@connectrpc/connect';
import { AgentError } from '../errors.js';
import type { PrefetchPolicy as Policy } from '../prefetch-policy.js';
import type { SandboxManager } from '../sandbox-manager.js';
import { tunnelPath } from '../tunnel/guest-tunnel.js';
import { validateTtl } from '../validate.js';
import { toSandboxMessage, toSnapshotMessage } from './convert.js';

/** Turns every failure into a ConnectError with a stable code; never leaks a stack trace to the caller. */
function rpcError(err: unknown): ConnectError {
  if (err instanceof AgentError) return err.toConnectError();
  if (err instanceof ConnectError) return err;
  return new AgentError('internal', (err as Error)?.message ?? String(err)).toConnectError();
}

function guard<A extends unknown[], R>(fn: (...args: A) => Promise<R> | R) {
  return async (...args: A): Promise<R> => {
    try {
      return await fn(...args);
    } catch (err) {
      throw rpcError(err);
    }
  };
}

function guardStream<A extends unknown[], R>(fn: (...args: A) => AsyncIterable<R>) {
  return async function* (...args: A): AsyncGenerator<R> {
    try {
      yield* fn(...args);
    } catch (err) {
      throw rpcError(err);
    }
  };
}

const READ_CHUNK = 256 * 1024;

function prefetchPolicy(policy: PrefetchPolicy): Policy | undefined {
  switch (policy) {
    case PrefetchPolicy.UNSPECIFIED:
      return undefined;
    case PrefetchPolicy.NONE:
      return 'none';
    case PrefetchPolicy.ALL:
      return 'all';
    case PrefetchPolicy.WORKING_SET:
      return 'working-set';
    default:
      throw new AgentError('invalid_argument', `unknown prefetch policy ${policy}`);
  }
}

/** The agent's service on a router: what its socket serves and what the in-process client calls. */
export function hostAgentRoutes(manager: SandboxManager): (router: ConnectRouter) => void {
  return (router) => router.service(HostAgentService, hostAgentService(manager));
}

export function hostAgentService(manager: SandboxManager): Partial<ServiceImpl<typeof HostAgentService>> {
  return {
    createSandbox: guard(async (req) => {
      const spec = req.spec;
      const sandbox = await manager.create({
        vcpus: spec?.vcpus,
        memoryMib: spec?.memoryMib,
        ttlSeconds: spec?.ttlSeconds,
        template: spec?.template,
        metadata: spec?.metadata,
        allowInternet: spec?.allowInternet,
        ...(spec?.egress && { egress: { allowOut: spec.egress.allowOut, denyOut: spec.egress.denyOut } }),
        prefetch: spec && prefetchPolicy(spec.prefetch),
      });
      return { sandbox: toSandboxMessage(sandbox) };
    }),
    destroySandbox: guard(async (req) => {
      await manager.destroy(req.sandboxId);
      return {};
    }),
    getSandbox: guard((req) => ({ sandbox: toSandboxMessage(manager.get(req.sandboxId)) })),
    listSandboxes: guard(() => ({ sandboxes: manager.list().map(toSandboxMessage) })),
    updateEgressRules: guard(async (req) => ({
      sandbox: toSandboxMessage(
        await manager.updateEgressRules(req.sandboxId, {
          allowOut: req.rules?.allowOut ?? [],
          denyOut: req.rules?.denyOut ?? [],
        }),
      ),
    })),
    ping: guard((req) => ({
      sandbox: toSandboxMessage(manager.ping(req.sandboxId, req.ttlSeconds || undefined)),
    })),

    exec: guardStream(async function* (req, ctx) {
      for await (const event of manager.exec(req.sandboxId, {
        cmd: req.cmd,
        args: req.args,
        envs: req.envs,
        ...(req.cwd && { cwd: req.cwd }),
        ...(req.timeoutMs && { timeoutMs: req.timeoutMs }),
        signal: ctx.signal,
      })) {
        if (event.pid !== undefined) yield { event: { case: 'pid' as const, value: event.pid } };
        if (event.stdout) yield { event: { case: 'stdout' as const, value: event.stdout } };
        if (event.stderr) yield { event: { case: 'stderr' as const, value: event.stderr } };
        if (event.exit) yield { event: { case: 'exit' as const, value: event.exit } };
      }
    }),

    writeFile: guard(async (requests: AsyncIterable<WriteFileRequest>) => {
      const iterator = requests[Symbol.asyncIterator]();
      const first = await iterator.next();
      if (first.done || first.value.part.case !== 'header') {
        throw new AgentError('invalid_argument', 'the first WriteFile message must be a header');
      }
      const { sandboxId, path } = first.value.part.value;
      async function* data(): AsyncGenerator<Uint8Array> {
        for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
          if (next.value.part.case !== 'data')
            throw new AgentError('invalid_argument', 'only data may follow the header');
          yield next.value.part.value;
        }
      }
      const bytesWritten = await manager.writeFile(sandboxId, path, data());
      return { bytesWritten: BigInt(bytesWritten) };
    }),

    readFile: guardStream(async function* (req) {
      for await (const chunk of manager.readFile(req.sandboxId, req.path)) {
        for (let at = 0; at < chunk.byteLength; at += READ_CHUNK)
          yield { data: chunk.subarray(at, at + READ_CHUNK) };
      }
    }),

    pauseSandbox: guard(async (req) => {
      const { record, generationBytes } = await manager.snapshots.pause(req.sandboxId);
      return { sandbox: toSandboxMessage(record), generationBytes: BigInt(generationBytes) };
    }),
    resumeSandbox: guard(async (req) => {
      const record = await manager.snapshots.resume(req.sandboxId, {
        prefetch: prefetchPolicy(req.prefetch),
        ttlSeconds: req.ttlSeconds ? validateTtl(manager.config, req.ttlSeconds) : undefined,
      });
      return { sandbox: toSandboxMessage(record) };
    }),
    forkSandbox: guard(async (req) => {
      const ttl = req.ttlSeconds ? validateTtl(manager.config, req.ttlSeconds) : undefined;
      const forks = await manager.snapshots.fork(req.sandboxId, req.count, ttl);
      return { sandboxes: forks.map(toSandboxMessage) };
    }),
    createSnapshot: guard(async (req) => {
      const template = await manager.snapshots.createTemplate(req.sandboxId, req.name);
      return { snapshot: toSnapshotMessage(template, manager.list()) };
    }),
    deleteSnapshot: guard(async (req) => {
      await manager.snapshots.deleteTemplate(req.name);
      return {};
    }),
    listSnapshots: guard(async () => {
      const sandboxes = manager.list();
      const templates = await manager.snapshots.templates.list();
      return { snapshots: templates.map((t) => toSnapshotMessage(t, sandboxes)) };
    }),

    getHostInfo: guard(() => ({
      accel: manager.config.accel,
      memoryBudgetMib: BigInt(manager.budget.totalMib),
      memoryCommittedMib: BigInt(manager.budget.committedMib),
      sandboxes: manager.list().length,
      imageId: manager.image.id,
      tunnelPath: tunnelPath(manager.config.home),
    })),
  };
}
