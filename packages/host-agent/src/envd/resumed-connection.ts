import { readFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { restoreTcpConnection, type TcpConnectionState } from '@amber/native';
import type { Logger } from 'pino';
import type { HeldConnection } from './envd-client.js';

/**
 * Why keep a connection across a snapshot: on an emulated CPU every code path a restored guest runs is
 * translated anew, and a new connection runs the most (the handshake, the kernel's accept, Node's
 * connection setup: ~8,000 of the ~15,000 translation blocks between `cont` and envd's first answer).
 */

/** Saves the held connection of a stopped guest; undefined (logged) if it cannot be kept. */
export function saveHeldConnection(
  held: HeldConnection | undefined,
  log: Logger,
): TcpConnectionState | undefined {
  if (!held) return undefined;
  try {
    return held.save();
  } catch (err) {
    log.warn({ err }, 'the envd connection cannot be kept; the next restore opens a new one');
    return undefined;
  }
}

/**
 * The saved connection of a snapshot, rebuilt in the namespace at `nsPath`; undefined if the snapshot has
 * none, or (logged) if it cannot be rebuilt: a fresh connection then does the same job, more slowly.
 */
export async function resumeHeldConnection(
  path: string,
  nsPath: string,
  log: Logger,
): Promise<Socket | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    log.warn({ err, path }, 'cannot read the saved envd connection');
    return undefined;
  }
  try {
    return restoreTcpConnection(nsPath, JSON.parse(text) as TcpConnectionState);
  } catch (err) {
    log.warn({ err, path }, 'cannot rebuild the saved envd connection');
    return undefined;
  }
}
