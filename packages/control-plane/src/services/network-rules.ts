import { EgressRuleError, parseEgressRules } from '@amber/host-agent';
import { ApiError } from '../errors.js';
import type { NetworkRules } from './sandbox-view.js';

/**
 * Checks a sandbox's outbound rules before anything is made (E2B's meaning: IPv4 addresses or CIDRs,
 * allowOut wins over denyOut); what Amber cannot honour (domains, ports, IPv6) is refused by name.
 * Null when there are none.
 */
export function checkNetworkRules(input: { allowOut?: unknown; denyOut?: unknown }): NetworkRules | null {
  try {
    const rules = parseEgressRules(input);
    return rules.allowOut.length || rules.denyOut.length ? rules : null;
  } catch (err) {
    if (err instanceof EgressRuleError) throw new ApiError('invalid_argument', `network.${err.message}`);
    throw err;
  }
}
