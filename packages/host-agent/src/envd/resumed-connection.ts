import { readFile } from 'node:fs/promises';
import { restoreTcpConnection, type TcpConnectionState } from '@amber/native';
import type { Logger } from 'pino';
import type { EnvdConnection, EnvdProtocol } from './control-channel.js';
import type { HeldConnection } from './kept-connection.js';

/** What a snapshot keeps of it: the TCP state, and the protocol (absent: HTTP, from before the channel). */
export type SavedConnection = TcpConnectionState & { protocol?: EnvdProtocol };

/**
 * Why keep a connection across a snapshot: on an emulated CPU every code path a restored guest runs is
 * translated anew, and a new connection runs the most (the handshake, the kernel's accept, Node's
 * connection setup: ~8,000 of the ~15,000 translation blocks between `cont` and envd's first answer).
 */

/** Saves the held connection of a stopped guest; undefined (logged) if it cannot be kept. */
export function saveHeldConnection(
  held: HeldConnection | undefined,
  log: Logger,
): SavedConnection | undefined {
  if (!held) return undefined;
  try {
    return { ...held.save(), protocol: held.protocol };
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
): Promise<EnvdConnection | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    log.warn({ err, path }, 'cannot read the saved envd connection');
    return undefined;
  }
  try {
    const saved = JSON.parse(text) as SavedConnection;
    return { socket: restoreTcpConnection(nsPath, saved), protocol: saved.protocol ?? 'http' };
  } catch (err) {
    log.warn({ err, path }, 'cannot rebuild the saved envd connection');
    return undefined;
  }
}
