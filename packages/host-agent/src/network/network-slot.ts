import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { run, runScript, withInput } from '../commands.js';
import { pidsByCommandLine } from '../host-processes.js';
import type { Egress } from './egress.js';
import { GUEST_NET } from './guest-net.js';

export interface NetworkSlot {
  netns: string;
  nsPath: string;
  tap: string;
  mac: string;
  guestIp: string;
  /** Its way out (egress.ts), when the pool made it with one. */
  egress?: Egress;
}

export function kernelNetArgs(): string {
  return `amber.ip=${GUEST_NET.guestIp}/${GUEST_NET.prefix} amber.gw=${GUEST_NET.hostIp}`;
}

/**
 * The start of the names of one agent's namespaces (`amber-<hash of its home>-`): an agent cleaning up after
 * a crash removes its own, never those of another agent on the same host.
 */
export function namespacePrefix(home: string): string {
  return `amber-${createHash('sha256').update(resolve(home)).digest('hex').slice(0, 8)}-`;
}

/**
 * The namespace `netns` with the tap a guest attaches to (slot-pool.ts hands them out); `more`: script lines
 * to run in the same shell once the namespace exists (its way out, egress.ts).
 */
export async function createNetworkSlot(netns: string, more: string[] = []): Promise<NetworkSlot> {
  const tap = GUEST_NET.tap;
  const setUp = [
    'link set lo up',
    `tuntap add ${tap} mode tap`,
    `link set ${tap} address ${GUEST_NET.hostMac}`,
    `addr add ${GUEST_NET.hostIp}/${GUEST_NET.prefix} dev ${tap}`,
    `link set ${tap} up`,
    // The guest's MAC is fixed, so the first connection after a restore skips an ARP round trip.
    `neigh replace ${GUEST_NET.guestIp} lladdr ${GUEST_NET.mac} dev ${tap} nud permanent`,
  ];
  try {
    await runScript(`network slot ${netns}`, [
      `ip netns add ${netns}`,
      withInput(`ip -n ${netns} -batch -`, setUp.join('\n')),
      ...more,
    ]);
  } catch (err) {
    // Names are 48 random bits under the agent's prefix: a failed `netns add` is not someone else's.
    await destroyNetworkSlot(netns);
    throw err;
  }
  return { netns, nsPath: `/run/netns/${netns}`, tap, mac: GUEST_NET.mac, guestIp: GUEST_NET.guestIp };
}

/** Deleting the namespace deletes the tap inside it. Idempotent. */
export async function destroyNetworkSlot(netns: string): Promise<void> {
  try {
    await run('ip', ['netns', 'del', netns]);
  } catch (err) {
    if (!/No such file|Invalid argument|does not exist/i.test((err as Error).message)) throw err;
  }
}

/**
 * Waits until no slot script (`ip netns add <prefix>…`, createNetworkSlot) runs any more. A killed agent's
 * scripts run on without it: a namespace one of them adds after the next agent swept its prefix would be
 * left for good. They take milliseconds; past `timeoutMs` they are killed (what they made is then swept).
 */
export async function settleSlotScripts(prefix: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let pids = await slotScripts(prefix); pids.length > 0; pids = await slotScripts(prefix)) {
    if (Date.now() > deadline) {
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch (err) {
          // Exited since it was listed: what it made is there to be swept.
          if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
        }
      }
      return;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

function slotScripts(prefix: string): Promise<number[]> {
  return pidsByCommandLine((cmdline) => cmdline.includes(`netns add ${prefix}`));
}

export async function listNetworkSlots(prefix: string): Promise<string[]> {
  return (await run('ip', ['netns', 'list']))
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((name) => name.startsWith(prefix));
}
