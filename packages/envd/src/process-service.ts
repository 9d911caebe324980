import {
  type ConnectResponse,
  type Process,
  ProcessConfigSchema,
  type ProcessEvent,
  ProcessEventSchema,
  ProcessInfoSchema,
  Signal,
  type StartResponse,
} from '@amber/proto/process';
import { create } from '@bufbuild/protobuf';
import { Code, ConnectError, type ServiceImpl } from '@connectrpc/connect';
import { Channel } from './channel.js';
import type { ClockGate } from './clock-gate.js';
import type { ManagedProcess, ProcessOutput, ProcessTable } from './process-table.js';

const KEEPALIVE_MS = 30_000;

function toEvent(output: ProcessOutput): ProcessEvent {
  switch (output.kind) {
    case 'stdout':
    case 'stderr':
      return create(ProcessEventSchema, {
        event: { case: 'data', value: { output: { case: output.kind, value: output.data } } },
      });
    case 'end':
      return create(ProcessEventSchema, {
        event: {
          case: 'end',
          value: {
            exitCode: output.exitCode,
            exited: output.exited,
            status: output.status,
            ...(output.error !== undefined && { error: output.error }),
          },
        },
      });
  }
}

/**
 * Streams a process's events until it ends or the client goes away. Keepalives stop idle proxies (and the
 * host agent's timeouts) from cutting a long, silent command.
 */
async function* follow(
  process: ManagedProcess,
  signal: AbortSignal,
  first?: ProcessEvent,
): AsyncGenerator<ProcessEvent> {
  const channel = new Channel<ProcessEvent>();
  const listener = (output: ProcessOutput) => {
    channel.push(toEvent(output));
    if (output.kind === 'end') channel.close();
  };
  process.listeners.add(listener);
  const keepalive = setInterval(
    () => channel.push(create(ProcessEventSchema, { event: { case: 'keepalive', value: {} } })),
    KEEPALIVE_MS,
  );
  const onAbort = () => channel.close();
  signal.addEventListener('abort', onAbort);
  try {
    if (first) yield first;
    yield* channel;
  } finally {
    clearInterval(keepalive);
    signal.removeEventListener('abort', onAbort);
    process.listeners.delete(listener);
  }
}

export function processService(table: ProcessTable, clock: ClockGate): Partial<ServiceImpl<typeof Process>> {
  return {
    async *start(req, ctx): AsyncGenerator<StartResponse> {
      await clock.settled();
      const config = req.process ?? create(ProcessConfigSchema);
      const proc = table.start({
        config,
        stdin: req.stdin ?? false,
        ...(req.tag !== undefined && { tag: req.tag }),
      });
      const started = create(ProcessEventSchema, { event: { case: 'start', value: { pid: proc.pid } } });
      for await (const event of follow(proc, ctx.signal, started))
        yield { $typeName: 'process.StartResponse', event };
    },

    async *connect(req, ctx): AsyncGenerator<ConnectResponse> {
      const proc = table.find(req.process?.selector ?? { case: undefined });
      const started = create(ProcessEventSchema, { event: { case: 'start', value: { pid: proc.pid } } });
      for await (const event of follow(proc, ctx.signal, started))
        yield { $typeName: 'process.ConnectResponse', event };
    },

    list() {
      return {
        processes: table.list().map((p) =>
          create(ProcessInfoSchema, {
            pid: p.pid,
            config: p.config,
            ...(p.tag !== undefined && { tag: p.tag }),
          }),
        ),
      };
    },

    sendSignal(req) {
      const proc = table.find(req.process?.selector ?? { case: undefined });
      const signal =
        req.signal === Signal.SIGKILL ? 'SIGKILL' : req.signal === Signal.SIGTERM ? 'SIGTERM' : undefined;
      if (!signal) throw new ConnectError(`unsupported signal ${req.signal}`, Code.InvalidArgument);
      proc.child.kill(signal);
      return {};
    },

    sendInput(req) {
      const proc = table.find(req.process?.selector ?? { case: undefined });
      if (!proc.child.stdin)
        throw new ConnectError(`process ${proc.pid} was started without stdin`, Code.FailedPrecondition);
      if (req.input?.input.case === 'stdin') proc.child.stdin.write(req.input.input.value);
      return {};
    },

    closeStdin(req) {
      const proc = table.find(req.process?.selector ?? { case: undefined });
      proc.child.stdin?.end();
      return {};
    },
  };
}
