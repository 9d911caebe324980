// Per-sandbox outbound rules (E2B's `network.allowOut` / `denyOut`): parsing, and the nftables table that
// enforces them inside the sandbox's own namespace, where it dies with the namespace.

/** IPv4 addresses or CIDRs; an address without a prefix means /32. Empty lists: no rules. */
export interface EgressRules {
  allowOut: string[];
  denyOut: string[];
}

/** Why a rule set was refused: `unsupported` for what Amber cannot honour (domains, ports, IPv6). */
export class EgressRuleError extends Error {
  constructor(
    readonly kind: 'invalid' | 'unsupported',
    message: string,
  ) {
    super(message);
  }
}

/** E2B's name for every IPv4 destination. */
export const ALL_TRAFFIC = '0.0.0.0/0';
/** More entries than this is a mistake, not a policy. */
export const MAX_RULES = 256;

interface Cidr {
  base: number;
  prefix: number;
}

const OCTETS = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function parseCidr(entry: string): Cidr | undefined {
  const [address = '', prefixText, ...rest] = entry.split('/');
  if (rest.length) return undefined;
  const octets = OCTETS.exec(address)?.slice(1).map(Number);
  if (!octets || octets.some((o) => o > 255)) return undefined;
  if (prefixText !== undefined && !/^\d{1,2}$/.test(prefixText)) return undefined;
  const prefix = prefixText === undefined ? 32 : Number(prefixText);
  if (prefix > 32) return undefined;
  const value = octets.reduce((acc, o) => acc * 256 + o, 0);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return { base: (value & mask) >>> 0, prefix };
}

function format({ base, prefix }: Cidr): string {
  const address = [24, 16, 8, 0].map((shift) => (base >>> shift) & 0xff).join('.');
  return `${address}/${prefix}`;
}

function contains(outer: Cidr, inner: Cidr): boolean {
  if (outer.prefix > inner.prefix) return false;
  const mask = outer.prefix === 0 ? 0 : (0xffffffff << (32 - outer.prefix)) >>> 0;
  return (inner.base & mask) >>> 0 === outer.base;
}

const overlaps = (a: Cidr, b: Cidr) => contains(a, b) || contains(b, a);

function whyNot(entry: string): EgressRuleError {
  if (/^[\da-f:]+(\/\d+)?$/i.test(entry) && entry.includes(':') && !/^[\d.]+:\d+$/.test(entry))
    return new EgressRuleError('unsupported', `${entry}: IPv6 rules are not supported by Amber`);
  if (/^[\d./]+:\d+(-\d+)?$/.test(entry))
    return new EgressRuleError('unsupported', `${entry}: rules for single ports are not supported by Amber`);
  if (/^(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)+\.?$/i.test(entry) && /[a-z]/i.test(entry))
    return new EgressRuleError(
      'unsupported',
      `${entry}: domain names are not supported by Amber (only IPv4 addresses and CIDRs)`,
    );
  return new EgressRuleError(
    'invalid',
    `${JSON.stringify(entry.slice(0, 64))} is not an IPv4 address or CIDR`,
  );
}

function parseList(field: 'allowOut' | 'denyOut', value: unknown): Cidr[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new EgressRuleError('invalid', `${field} must be an array of strings`);
  if (value.length > MAX_RULES)
    throw new EgressRuleError('invalid', `${field} may hold at most ${MAX_RULES} entries`);
  return value.map((entry) => {
    if (typeof entry !== 'string')
      throw new EgressRuleError('invalid', `${field} must be an array of strings`);
    const cidr = parseCidr(entry.trim());
    if (!cidr) {
      const err = whyNot(entry.trim());
      throw new EgressRuleError(err.kind, `${field}: ${err.message}`);
    }
    return cidr;
  });
}

/** Drops entries inside another (CIDRs nest or are disjoint), so nftables' interval sets never conflict. */
function minimal(cidrs: Cidr[]): string[] {
  const kept = cidrs.filter(
    (c, i) => !cidrs.some((o, j) => j !== i && contains(o, c) && (o.prefix < c.prefix || j < i)),
  );
  return kept.map(format).sort();
}

/**
 * Checks and normalises rules with E2B's meaning: `allowOut` wins over `denyOut`; an allowed range must
 * overlap a denied one (anything else is allowed anyway, and E2B refuses it as meaningless).
 */
export function parseEgressRules(input: { allowOut?: unknown; denyOut?: unknown }): EgressRules {
  const deny = parseList('denyOut', input.denyOut);
  const allow = parseList('allowOut', input.allowOut);
  if (allow.length && !deny.length)
    throw new EgressRuleError(
      'invalid',
      'allowOut needs denyOut: everything is allowed unless denied (use denyOut: ["0.0.0.0/0"] to allow only allowOut)',
    );
  for (const a of allow) {
    if (!deny.some((d) => overlaps(a, d)))
      throw new EgressRuleError(
        'invalid',
        `allowOut ${format(a)} is not covered by any denyOut entry, so it would change nothing`,
      );
  }
  return { allowOut: minimal(allow), denyOut: minimal(deny) };
}

export const noRules = (rules: EgressRules | undefined): boolean =>
  !rules || (rules.allowOut.length === 0 && rules.denyOut.length === 0);

/** nftables' name for the table in the sandbox's namespace. */
export const RULES_TABLE = 'amber_rules';

/**
 * One `nft -f` batch, run in the sandbox's namespace, that replaces its rules atomically (declare, delete,
 * define: the idiom that works whether or not the table exists). Replies to the guest already let in
 * pass first; allowed destinations before denied ones; a denied one is refused at once (admin-prohibited),
 * so a program in the guest fails fast rather than waiting out a timeout.
 */
export function rulesScript(rules: EgressRules, guestIf: string): string {
  const lines = [`table ip ${RULES_TABLE}`, `delete table ip ${RULES_TABLE}`];
  if (noRules(rules)) return `${lines.join('\n')}\n`;
  const set = (name: string, cidrs: string[]) =>
    `  set ${name} { type ipv4_addr; flags interval;${cidrs.length ? ` elements = { ${cidrs.join(', ')} };` : ''} }`;
  lines.push(
    `table ip ${RULES_TABLE} {`,
    set('allow', rules.allowOut),
    set('deny', rules.denyOut),
    '  chain forward { type filter hook forward priority -10; policy accept;',
    `    iifname != "${guestIf}" accept`,
    '    ct state established,related accept',
    '    ip daddr @allow accept',
    '    ip daddr @deny reject with icmp type admin-prohibited',
    '  }',
    '}',
  );
  return `${lines.join('\n')}\n`;
}
