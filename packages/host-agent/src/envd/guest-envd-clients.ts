// Test support for the in-VM envd tests: Connect clients generated from the project's protos and a plain
// HTTP client, all connecting inside the sandbox's network namespace (looked up per connection, since a
// resume may put the sandbox in another slot).
import { type IncomingMessage, request } from 'node:http';
import type { Readable } from 'node:stream';
import { connectInNetns } from '@amber/native';
import { Filesystem } from '@amber/proto/filesystem';
import { Process } from '@amber/proto/process';
import { type Client, createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { GUEST_NET } from '../network/guest-net.js';
import type { TestAgent } from '../test-support/test-agent.js';
import { ENVD_PORT } from './envd-client.js';

export interface GuestEnvd {
  process(user?: string, token?: string): Client<typeof Process>;
  filesystem(user?: string, token?: string): Client<typeof Filesystem>;
  /** One HTTP request to envd; `body` may be a stream. Resolves with the response (body unread). */
  http(
    method: string,
    path: string,
    options?: { headers?: Record<string, string>; body?: Buffer | string | Readable },
  ): Promise<IncomingMessage>;
}

export function basicAuth(user: string): string {
  return `Basic ${Buffer.from(`${user}:`).toString('base64')}`;
}

export function guestEnvd(t: TestAgent, sandboxId: string): GuestEnvd {
  const connect = () => {
    const runtime = t.agent.manager.get(sandboxId).runtime;
    if (!runtime) throw new Error(`sandbox ${sandboxId} is not running`);
    return connectInNetns(runtime.slot.nsPath, GUEST_NET.guestIp, ENVD_PORT);
  };
  const transport = (user?: string, token?: string) =>
    createConnectTransport({
      baseUrl: `http://${GUEST_NET.guestIp}:${ENVD_PORT}`,
      httpVersion: '1.1',
      nodeOptions: { createConnection: connect },
      interceptors: [
        (next) => (req) => {
          if (user) req.header.set('authorization', basicAuth(user));
          if (token) req.header.set('x-access-token', token);
          return next(req);
        },
      ],
    });
  return {
    process: (user, token) => createClient(Process, transport(user, token)),
    filesystem: (user, token) => createClient(Filesystem, transport(user, token)),
    http(method, path, options = {}) {
      return new Promise((resolve, reject) => {
        const req = request({
          method,
          host: GUEST_NET.guestIp,
          port: ENVD_PORT,
          path,
          headers: options.headers ?? {},
          createConnection: connect,
        });
        req.once('response', resolve);
        req.once('error', reject);
        const body = options.body;
        if (body === undefined || typeof body === 'string' || Buffer.isBuffer(body)) req.end(body);
        else body.pipe(req);
      });
    },
  };
}

export async function readAll(res: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Runs a command to its end through Process.Start; returns its output and end event. */
export async function runInGuest(
  client: Client<typeof Process>,
  cmd: string,
  args: string[],
  extra: { cwd?: string; envs?: Record<string, string> } = {},
) {
  let stdout = '';
  let stderr = '';
  let end: { exitCode: number; status: string } | undefined;
  for await (const res of client.start({
    process: { cmd, args, envs: extra.envs ?? {}, ...(extra.cwd && { cwd: extra.cwd }) },
    stdin: false,
  })) {
    const e = res.event?.event;
    if (e?.case === 'data' && e.value.output.case === 'stdout')
      stdout += Buffer.from(e.value.output.value).toString();
    if (e?.case === 'data' && e.value.output.case === 'stderr')
      stderr += Buffer.from(e.value.output.value).toString();
    if (e?.case === 'end') end = { exitCode: e.value.exitCode, status: e.value.status };
  }
  return { stdout, stderr, end };
}
