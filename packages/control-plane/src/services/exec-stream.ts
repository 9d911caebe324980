import { commandEnd } from '@amber/host-agent';
import { Signal } from '@amber/proto/process';
import { Code, ConnectError } from '@connectrpc/connect';
import type { Static } from '@sinclair/typebox';
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import { ApiError } from '../errors.js';
import type { InputMessage, StartMessage } from '../schemas/exec-stream.js';
import { inputMessage, startMessage } from '../schemas/exec-stream.js';
import { envdClients } from '../tunnel/envd-clients.js';
import { fromAgentError } from './agent-errors.js';
import type { AgentLink } from './agent-link.js';
import { argvOf, USER_PATTERN } from './exec-service.js';
import type { SandboxService } from './sandbox-service.js';

const START_TIMEOUT_MS = 30_000;

function send(socket: WebSocket, message: object): void {
  if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(message));
}

function fail(socket: WebSocket, err: unknown, log: Logger): void {
  const apiError =
    err instanceof ConnectError && err.code === Code.Unauthenticated
      ? new ApiError('invalid_argument', err.rawMessage)
      : fromAgentError(err);
  if (apiError.status >= 500) log.error({ err }, 'exec stream failed');
  send(socket, { type: 'error', error: apiError.toJSON().error });
  socket.close(apiError.status < 500 ? 1008 : 1011, apiError.code);
}

function parse(data: unknown): unknown {
  try {
    return JSON.parse(String(data));
  } catch {
    throw new ApiError('invalid_argument', 'every message must be one JSON object');
  }
}

function firstMessage(socket: WebSocket): Promise<Static<typeof StartMessage>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new ApiError('invalid_argument', 'no start message within 30 s')),
      START_TIMEOUT_MS,
    );
    socket.once('message', (data) => {
      clearTimeout(timer);
      try {
        const message = parse(data);
        if (!startMessage.Check(message)) {
          const issue = startMessage.Errors(message).First();
          throw new ApiError(
            'invalid_argument',
            `start message${issue?.path ?? ''}: ${issue?.message ?? 'invalid'}`,
          );
        }
        resolve(message);
      } catch (err) {
        reject(err);
      }
    });
    socket.once('close', () => reject(new ApiError('invalid_argument', 'closed before the start message')));
  });
}

/**
 * One process per WebSocket, through envd's Process service over the agent's guest tunnel: output out,
 * stdin / resize / signals in. The process is killed if the client goes away before it ends.
 */
export class ExecStreamService {
  constructor(
    private readonly sandboxes: SandboxService,
    private readonly agent: AgentLink,
    private readonly log: Logger,
  ) {}

  async handle(socket: WebSocket, teamId: string, sandboxId: string): Promise<void> {
    try {
      const start = await firstMessage(socket);
      await this.sandboxes.use(teamId, sandboxId, () => this.run(socket, sandboxId, start));
    } catch (err) {
      fail(socket, await this.explain(err, sandboxId), this.log);
    }
  }

  /** A stream cut because its sandbox stopped running says so, not as the transport's "aborted". */
  private async explain(err: unknown, sandboxId: string): Promise<unknown> {
    if (!(err instanceof ConnectError)) return err;
    const row = await this.sandboxes.store.find(sandboxId);
    if (!row) return new ApiError('not_found', `the stream ended: sandbox ${sandboxId} was destroyed`);
    if (row.state === 'running') return err;
    const paused = row.state === 'pausing' || row.state === 'paused';
    return new ApiError(
      'invalid_state',
      `the stream ended: sandbox ${sandboxId} is ${row.state}${paused ? '; the process carries on after a resume' : ''}`,
    );
  }

  private async run(socket: WebSocket, sandboxId: string, start: Static<typeof StartMessage>): Promise<void> {
    const argv = argvOf({
      ...(start.cmd && { cmd: start.cmd }),
      ...(start.command && { command: start.command }),
    });
    if (start.user !== undefined && !USER_PATTERN.test(start.user)) {
      throw new ApiError('invalid_argument', `invalid user name ${JSON.stringify(start.user)}`);
    }
    const { process } = envdClients(this.agent.tunnelPath, sandboxId, start.user);
    const abort = new AbortController();
    let pid: number | undefined;
    let ended = false;
    const pending: Array<Static<typeof InputMessage>> = [];
    const selector = () => ({ selector: { case: 'pid' as const, value: pid as number } });
    const apply = async (message: Static<typeof InputMessage>) => {
      switch (message.type) {
        case 'stdin': {
          const data = Buffer.from(message.data, 'base64');
          const input = start.pty
            ? { case: 'pty' as const, value: data }
            : { case: 'stdin' as const, value: data };
          await process.sendInput({ process: selector(), input: { input } });
          break;
        }
        case 'resize':
          await process.update({
            process: selector(),
            pty: { size: { cols: message.cols, rows: message.rows } },
          });
          break;
        case 'closeStdin':
          await process.closeStdin({ process: selector() });
          break;
        case 'signal':
          await process.sendSignal({
            process: selector(),
            signal: message.signal === 'SIGKILL' ? Signal.SIGKILL : Signal.SIGTERM,
          });
          break;
      }
    };
    // Inputs are applied one at a time, in order.
    let inputs = Promise.resolve();
    const enqueue = (message: Static<typeof InputMessage>) => {
      inputs = inputs
        .then(() => apply(message))
        .catch((err) => {
          if (!ended) send(socket, { type: 'error', error: fromAgentError(err).toJSON().error });
        });
    };
    socket.on('message', (data) => {
      let message: unknown;
      try {
        message = parse(data);
      } catch (err) {
        send(socket, { type: 'error', error: fromAgentError(err).toJSON().error });
        return;
      }
      if (!inputMessage.Check(message)) {
        const issue = inputMessage.Errors(message).First();
        send(socket, {
          type: 'error',
          error: {
            code: 'invalid_argument',
            message: `message${issue?.path ?? ''}: ${issue?.message ?? 'invalid'}`,
          },
        });
        return;
      }
      if (pid === undefined) pending.push(message);
      else enqueue(message);
    });
    socket.on('close', () => {
      if (!ended && pid !== undefined) {
        void process.sendSignal({ process: selector(), signal: Signal.SIGKILL }).catch(() => undefined);
      }
      abort.abort();
    });
    const timer = start.timeoutSec
      ? setTimeout(() => {
          if (pid !== undefined)
            void process.sendSignal({ process: selector(), signal: Signal.SIGKILL }).catch(() => undefined);
        }, start.timeoutSec * 1000)
      : undefined;
    try {
      const events = process.start(
        {
          process: {
            cmd: argv[0] as string,
            args: argv.slice(1),
            envs: start.envs ?? {},
            ...(start.cwd && { cwd: start.cwd }),
          },
          ...(start.pty && { pty: { size: { cols: start.cols ?? 80, rows: start.rows ?? 24 } } }),
          stdin: true,
        },
        { signal: abort.signal },
      );
      for await (const res of events) {
        const event = res.event?.event;
        if (!event) continue;
        if (event.case === 'start') {
          pid = event.value.pid;
          send(socket, { type: 'started', pid });
          for (const message of pending.splice(0)) enqueue(message);
        } else if (event.case === 'data') {
          const output = event.value.output;
          if (output.case === 'stderr')
            send(socket, { type: 'stderr', data: Buffer.from(output.value).toString('base64') });
          else if (output.case)
            send(socket, { type: 'stdout', data: Buffer.from(output.value).toString('base64') });
        } else if (event.case === 'end') {
          ended = true;
          // An error, as REST exec and the host agent say it, not an exit with a made-up signal.
          const end = commandEnd(event.value);
          if ('notStarted' in end)
            throw new ApiError('invalid_state', `cannot run ${argv[0]}: ${end.notStarted}`, {
              reason: end.reason,
            });
          send(socket, { type: 'exit', exitCode: end.exitCode, signal: end.signal });
        }
      }
      if (socket.readyState === socket.OPEN) socket.close(1000, 'exited');
    } catch (err) {
      if (abort.signal.aborted) return;
      throw err;
    } finally {
      if (timer) clearTimeout(timer);
    }
  }
}
