// Outbound internet for one sandbox: a veth from its namespace to the host's, NAT twice (the guest's fixed
// address leaves its namespace as the veth's, then the host's address leaves the host), and nftables rules
// in the host that keep every sandbox away from the host's own services and from other sandboxes.
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { run, runScript, withInput } from '../commands.js';
import { type EgressRules, rulesScript } from './egress-rules.js';
import { GUEST_NET } from './guest-net.js';

/** Veth pairs are numbered in 100.64.0.0/10 (shared address space, never routed on the internet). */
const EGRESS_NET = { first: 0x64400000, size: 1 << 22 };
/** Every sandbox veth on the host starts with this, whatever agent made it. */
const VETH = 'av';

export interface Egress {
  /** The veth's end in the host namespace. */
  hostIf: string;
  /** Addresses of the pair's /30: the host end and the sandbox namespace's end. */
  hostIp: string;
  nsIp: string;
}

/** The host namespace's own IPv4 addresses, read from the kernel's FIB (no `ip` process). */
async function localIpv4s(): Promise<Set<string>> {
  const lines = (await readFile('/proc/net/fib_trie', 'utf8')).split('\n');
  const local = new Set<string>();
  // An address line (`|-- 10.0.0.1`) is followed by its kind (`/32 host LOCAL` for our own).
  for (let i = 1; i < lines.length; i++) {
    if (!lines[i]?.includes('/32 host LOCAL')) continue;
    const address = /(\d+\.\d+\.\d+\.\d+)\s*$/.exec(lines[i - 1] ?? '')?.[1];
    if (address) local.add(address);
  }
  return local;
}

function ipv4(n: number): string {
  return [24, 16, 8, 0].map((shift) => (n >>> shift) & 0xff).join('.');
}

/**
 * The host side of egress for one agent: its nftables tables (`inet amber-<hash>` filter, `ip
 * amber-<hash>-nat`) and its veths (`av<hash>…`). `allow`: destinations sandboxes may reach (CIDRs), all by
 * default; tests narrow it to their stand-in server.
 */
export class EgressHost {
  readonly #tag: string;
  #ready: Promise<void> | undefined;

  constructor(
    home: string,
    private readonly allow: string[],
    private readonly log: Logger,
  ) {
    this.#tag = createHash('sha256').update(resolve(home)).digest('hex').slice(0, 4);
  }

  get table(): string {
    return `amber-${this.#tag}`;
  }

  /** Our veths' name prefix. */
  get prefix(): string {
    return `${VETH}${this.#tag}`;
  }

  /**
   * What gives `netns` a way out: its addresses, and script lines (commands.ts) that make it once the
   * namespace exists. The namespace's deletion removes it again (with the veth pair). The slot pool runs
   * them with the slot's own setup, in one shell: made ahead, they still share the CPU with the guests
   * starting meanwhile.
   */
  async plan(netns: string): Promise<{ egress: Egress; script: string[] }> {
    await this.#setUp();
    const used = await localIpv4s();
    let base = 0;
    for (let attempt = 0; attempt < 32; attempt++) {
      base = EGRESS_NET.first + randomInt(EGRESS_NET.size / 4) * 4;
      if (!used.has(ipv4(base + 1)) && !used.has(ipv4(base + 2))) break;
    }
    const egress = {
      hostIf: `${this.prefix}${randomBytes(4).toString('hex')}`,
      hostIp: ipv4(base + 1),
      nsIp: ipv4(base + 2),
    };
    const script = [
      withInput(
        'ip -batch -',
        [
          `link add ${egress.hostIf} type veth peer name up0 netns ${netns}`,
          `addr add ${egress.hostIp}/30 dev ${egress.hostIf}`,
          `link set ${egress.hostIf} up`,
        ].join('\n'),
      ),
      withInput(
        `ip -n ${netns} -batch -`,
        [
          `addr add ${egress.nsIp}/30 dev up0`,
          'link set up0 up',
          `route add default via ${egress.hostIp}`,
        ].join('\n'),
      ),
      // In the sandbox's namespace: forward the guest's packets and give them the veth's address.
      withInput(
        `ip netns exec ${netns} sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward && exec nft -f -'`,
        'table ip amber {\n  chain post { type nat hook postrouting priority 100; oifname "up0" masquerade; }\n}',
      ),
    ];
    return { egress, script };
  }

  /** Gives the existing namespace `netns` its way out now (a slot made without one). */
  async enable(netns: string): Promise<Egress> {
    const { egress, script } = await this.plan(netns);
    await runScript(`egress of ${netns}`, script);
    return egress;
  }

  /**
   * Replaces the sandbox's outbound rules (egress-rules.ts) in its namespace: one `nft -f` process, atomic,
   * so a running guest never sees a half-applied set.
   */
  async applyRules(netns: string, rules: EgressRules): Promise<void> {
    await run('ip', ['netns', 'exec', netns, 'nft', '-f', '-'], rulesScript(rules, GUEST_NET.tap));
  }

  /** Takes `netns`'s way out away again (the pair goes with either end; so does its default route). */
  async disable(netns: string): Promise<void> {
    await run('ip', ['-n', netns, 'link', 'del', 'up0']);
  }

  /** Removes the agent's tables (its veths went with their namespaces). */
  async close(): Promise<void> {
    if (!this.#ready) return;
    this.#ready = undefined;
    await this.#deleteTables();
  }

  async #deleteTables(): Promise<void> {
    for (const table of [`inet ${this.table}`, `ip ${this.table}-nat`]) {
      await run('nft', ['delete', 'table', ...table.split(' ')]).catch(() => undefined);
    }
  }

  #setUp(): Promise<void> {
    this.#ready ??= (async () => {
      await this.#deleteTables();
      const allow = this.allow.length ? `ip daddr != { ${this.allow.join(', ')} } drop;` : '';
      await run(
        'nft',
        ['-f', '-'],
        [
          `table inet ${this.table} {`,
          // Nothing from a sandbox is for the host itself: not its services on any address, not the agent.
          `  chain input { type filter hook input priority 0; policy accept; iifname "${VETH}*" drop; }`,
          '  chain forward { type filter hook forward priority 0; policy accept;',
          // Nor for another sandbox, of this agent or any other.
          `    iifname "${VETH}*" oifname "${VETH}*" drop;`,
          ...(allow ? [`    iifname "${this.prefix}*" ${allow}`] : []),
          '  }',
          '}',
          `table ip ${this.table}-nat {`,
          `  chain post { type nat hook postrouting priority 100; ip saddr 100.64.0.0/10 oifname != "${VETH}*" masquerade; }`,
          '}',
        ].join('\n'),
      );
      // The host must forward for the sandboxes' packets to leave it; it is one switch for the whole host.
      await writeFile('/proc/sys/net/ipv4/ip_forward', '1');
      this.log.info({ table: this.table, allow: this.allow }, 'sandbox egress set up (host forwarding on)');
    })().catch((err) => {
      this.#ready = undefined;
      throw err;
    });
    return this.#ready;
  }
}
