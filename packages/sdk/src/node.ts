// The Node entry: the same API, plus what only Node has: the `ws` package (Node 20 has no global
// WebSocket) with the key in a header, and a local instance's URL and key files under $AMBER_HOME.
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { setPlatform } from './platform.js';
import type { WebSocketLike } from './web-socket.js';

export * from './index.js';

export function amberHome(): string {
  return process.env.AMBER_HOME || join(homedir(), '.amber');
}

async function readTrimmed(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim() || undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

setPlatform({
  localUrl: () => readTrimmed(join(amberHome(), 'url')),
  localApiKey: () => readTrimmed(join(amberHome(), 'api-key')),
  openWebSocket: (url, apiKey) =>
    new WebSocket(url, { headers: apiKey ? { 'x-api-key': apiKey } : {} }) as unknown as WebSocketLike,
});
