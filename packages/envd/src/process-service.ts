import {
  type ConnectResponse,
  type Process,
  type ProcessEvent,
  ProcessEventSchema,
  ProcessInfoSchema,
  type ProcessInput,
  Signal,
  type StartResponse,
} from '@amber/proto/process';
import { create } from '@bufbuild/protobuf';
import { Code, ConnectError, type ServiceImpl } from '@connectrpc/connect';
import { rpcUser } from './auth.js';
import { Channel } from './channel.js';
import type { ClockGate } from './clock-gate.js';
import type { EnvdContext } from './context.js';
import type { ManagedProcess, ProcessOutput, ProcessTable } from './process-table.js';

const KEEPALIVE_MS = 30_000;

function toEvent(output: ProcessOutput): ProcessEvent {
  switch (output.kind) {
    case 'stdout':
    case 'stderr':
    case 'pty':
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

/** Input for a PTY process goes to its terminal whichever field carries it; otherwise to stdin. */
function writeInput(proc: ManagedProcess, input: ProcessInput | undefined): void {
  const data = input?.input.value;
  if (!data) return;
  if (proc.pty) {
    proc.pty.stream.write(data);
    return;
  }
  if (input?.input.case === 'pty')
    throw new ConnectError(`process ${proc.pid} has no terminal; send stdin`, Code.FailedPrecondition);
  if (!proc.child.stdin || proc.child.stdin.destroyed || proc.child.stdin.writableEnded)
    throw new ConnectError(`process ${proc.pid} has no open stdin`, Code.FailedPrecondition);
  proc.child.stdin.write(data);
}

function validSize(size: { cols: number; rows: number } | undefined): { cols: number; rows: number } {
  if (!size || size.cols < 1 || size.rows < 1 || size.cols > 0xffff || size.rows > 0xffff)
    throw new ConnectError('pty.size needs cols and rows between 1 and 65535', Code.InvalidArgument);
  return { cols: size.cols, rows: size.rows };
}

export function processService(
  ctx: EnvdContext,
  table: ProcessTable,
  clock: ClockGate,
): Partial<ServiceImpl<typeof Process>> {
  return {
    async *start(req, hc): AsyncGenerator<StartResponse> {
      await clock.settled();
      if (!req.process) throw new ConnectError('process is required', Code.InvalidArgument);
      const proc = table.start({
        config: req.process,
        user: rpcUser(ctx, hc.requestHeader),
        // E2B's default: stdin open unless the client says otherwise.
        stdin: req.stdin ?? true,
        ...(req.pty && { pty: validSize(req.pty.size) }),
        ...(req.tag !== undefined && { tag: req.tag }),
      });
      const started = create(ProcessEventSchema, { event: { case: 'start', value: { pid: proc.pid } } });
      for await (const event of follow(proc, hc.signal, started))
        yield { $typeName: 'process.StartResponse', event };
    },

    async *connect(req, hc): AsyncGenerator<ConnectResponse> {
      const proc = table.find(req.process?.selector ?? { case: undefined });
      const started = create(ProcessEventSchema, { event: { case: 'start', value: { pid: proc.pid } } });
      for await (const event of follow(proc, hc.signal, started))
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

    update(req) {
      const proc = table.find(req.process?.selector ?? { case: undefined });
      if (!req.pty) return {};
      if (!proc.pty) throw new ConnectError(`process ${proc.pid} has no terminal`, Code.FailedPrecondition);
      const { cols, rows } = validSize(req.pty.size);
      ctx.native().setWinsize(proc.pty.fd, cols, rows);
      return {};
    },

    sendSignal(req) {
      const proc = table.find(req.process?.selector ?? { case: undefined });
      const signal =
        req.signal === Signal.SIGKILL ? 'SIGKILL' : req.signal === Signal.SIGTERM ? 'SIGTERM' : undefined;
      if (!signal)
        throw new ConnectError(
          `unsupported signal ${req.signal}: only SIGTERM (15) and SIGKILL (9)`,
          Code.InvalidArgument,
        );
      proc.child.kill(signal);
      return {};
    },

    sendInput(req) {
      writeInput(table.find(req.process?.selector ?? { case: undefined }), req.input);
      return {};
    },

    async streamInput(requests) {
      let proc: ManagedProcess | undefined;
      for await (const req of requests) {
        const event = req.event;
        if (event.case === 'start') proc = table.find(event.value.process?.selector ?? { case: undefined });
        else if (event.case === 'data') {
          if (!proc)
            throw new ConnectError('the input stream must start with a start event', Code.InvalidArgument);
          writeInput(proc, event.value.input);
        }
      }
      return {};
    },

    closeStdin(req) {
      const proc = table.find(req.process?.selector ?? { case: undefined });
      if (proc.pty)
        throw new ConnectError(
          `process ${proc.pid} has a terminal: send Ctrl+D (0x04) instead`,
          Code.FailedPrecondition,
        );
      proc.child.stdin?.end();
      return {};
    },
  };
}
