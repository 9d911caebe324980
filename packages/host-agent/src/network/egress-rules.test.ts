import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { EgressRuleError, parseEgressRules, rulesScript } from './egress-rules.js';

function refused(input: { allowOut?: unknown; denyOut?: unknown }, kind: string, message: RegExp): void {
  assert.throws(
    () => parseEgressRules(input),
    (err: unknown) => err instanceof EgressRuleError && err.kind === kind && message.test(err.message),
  );
}

test('addresses and CIDRs are normalised; nested entries collapse so interval sets never conflict', () => {
  assert.deepEqual(parseEgressRules({}), { allowOut: [], denyOut: [] });
  assert.deepEqual(
    parseEgressRules({
      denyOut: ['198.51.100.2', '0.0.0.0/0', '10.1.2.3/8'],
      allowOut: ['198.51.100.7/24', '198.51.100.9'],
    }),
    { denyOut: ['0.0.0.0/0'], allowOut: ['198.51.100.0/24'] },
  );
  assert.deepEqual(parseEgressRules({ denyOut: ['1.2.3.4', '1.2.3.4/32', ' 5.6.7.8 '] }), {
    allowOut: [],
    denyOut: ['1.2.3.4/32', '5.6.7.8/32'],
  });
});

test('bad entries are refused as invalid, what Amber cannot honour as unsupported', () => {
  refused({ denyOut: ['1.2.3.256'] }, 'invalid', /denyOut: "1\.2\.3\.256" is not an IPv4 address or CIDR/);
  refused({ denyOut: ['1.2.3.4/33'] }, 'invalid', /not an IPv4 address or CIDR/);
  refused({ denyOut: 'x' }, 'invalid', /denyOut must be an array of strings/);
  refused({ denyOut: [1] }, 'invalid', /array of strings/);
  refused({ allowOut: ['1.1.1.1'] }, 'invalid', /allowOut needs denyOut/);
  refused({ allowOut: ['1.1.1.1'], denyOut: ['8.8.8.8'] }, 'invalid', /not covered by any denyOut/);
  refused({ allowOut: ['example.com'], denyOut: ['0.0.0.0/0'] }, 'unsupported', /domain names/);
  refused({ denyOut: ['2001:db8::/32'] }, 'unsupported', /IPv6/);
  refused({ denyOut: ['8.8.8.8:53'] }, 'unsupported', /single ports/);
  refused({ denyOut: Array(257).fill('1.1.1.1') }, 'invalid', /at most 256/);
});

test('the rules script is accepted by nftables (check mode), with and without rules', () => {
  const rules = parseEgressRules({ denyOut: ['0.0.0.0/0', '192.0.2.0/24'], allowOut: ['192.0.2.1'] });
  for (const script of [rulesScript(rules, 'tap0'), rulesScript({ allowOut: [], denyOut: [] }, 'tap0')]) {
    execFileSync('nft', ['-c', '-f', '-'], { input: script });
  }
  assert.match(rulesScript(rules, 'tap0'), /elements = \{ 0\.0\.0\.0\/0 \}/);
});
