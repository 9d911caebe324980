// A real envd on loopback for this package's tests, with its own /etc/passwd and /etc/group in a temp
// dir: `root` (uid 0) and `user` (uid 1000), homes under that dir, so ownership and user switching are
// exercised for real (the tests run as root, as the guest agent does).
import { chmod, chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { guestAddonPath } from '@amber/native';
import { Filesystem } from '@amber/proto/filesystem';
import { Process } from '@amber/proto/process';
import { type Client, createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { createEnvdServer } from './server.js';

export interface TestEnvd {
  base: string;
  dir: string;
  userHome: string;
  rootHome: string;
  server: Server;
  process(user?: string, token?: string): Client<typeof Process>;
  filesystem(user?: string, token?: string): Client<typeof Filesystem>;
  close(): Promise<void>;
}

export function basicAuth(user: string): string {
  return `Basic ${Buffer.from(`${user}:`).toString('base64')}`;
}

export async function startTestEnvd(): Promise<TestEnvd> {
  const dir = await mkdtemp(join(tmpdir(), 'envd-test-'));
  await chmod(dir, 0o755);
  const rootHome = join(dir, 'root');
  const userHome = join(dir, 'home/user');
  await mkdir(rootHome, { recursive: true });
  await mkdir(userHome, { recursive: true });
  await chown(userHome, 1000, 1000);
  await writeFile(
    join(dir, 'passwd'),
    `root:x:0:0:root:${rootHome}:/bin/bash\nuser:x:1000:1000::${userHome}:/bin/bash\n`,
  );
  await writeFile(join(dir, 'group'), 'root:x:0:\nuser:x:1000:\n');
  const server = createEnvdServer({
    defaultUser: 'user',
    addonPath: guestAddonPath,
    passwdPath: join(dir, 'passwd'),
    groupPath: join(dir, 'group'),
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const transport = (user?: string, token?: string) =>
    createConnectTransport({
      baseUrl: base,
      httpVersion: '1.1',
      interceptors: [
        (next) => (req) => {
          if (user) req.header.set('authorization', basicAuth(user));
          if (token) req.header.set('x-access-token', token);
          return next(req);
        },
      ],
    });
  return {
    base,
    dir,
    userHome,
    rootHome,
    server,
    process: (user, token) => createClient(Process, transport(user, token)),
    filesystem: (user, token) => createClient(Filesystem, transport(user, token)),
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
