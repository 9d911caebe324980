// What a sandbox's outbound rules add to its resume: one `ip netns exec <ns> nft -f -` applying them in a
// fresh namespace (what SandboxManager.openEgress runs), against the floor of any one process run in a
// namespace (`ip netns exec <ns> true`). No VM: the rest of a resume does not change with rules.
import { execFileSync, spawnSync } from 'node:child_process';
import { parseEgressRules, rulesScript } from '@amber/host-agent';
import { median, progress, report } from './lib/report.js';

const RUNS = Number(process.env.AMBER_BENCH_RUNS ?? 30);
const ns = `amber-bench-netpolicy-${process.pid}`;

function timed(args: string[], input?: string): number {
  const started = performance.now();
  const result = spawnSync('ip', ['netns', 'exec', ns, ...args], input === undefined ? {} : { input });
  if (result.status !== 0) throw new Error(`${args.join(' ')} failed: ${result.stderr}`);
  return performance.now() - started;
}

execFileSync('ip', ['netns', 'add', ns]);
try {
  // A realistic set: deny everything but 16 ranges, and deny 16 more addresses outright.
  const rules = parseEgressRules({
    denyOut: ['0.0.0.0/0', ...Array.from({ length: 16 }, (_, i) => `198.18.${i}.1`)],
    allowOut: Array.from({ length: 16 }, (_, i) => `203.0.${i}.0/24`),
  });
  const script = rulesScript(rules, 'tap0');
  const apply: number[] = [];
  const floor: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    floor.push(timed(['true']));
    apply.push(timed(['nft', '-f', '-'], script));
    // The next run as on a resume: a namespace with no rules yet (not timed).
    execFileSync('ip', ['netns', 'exec', ns, 'nft', 'delete', 'table', 'ip', 'amber_rules']);
  }
  progress(`${RUNS} runs each`);
  const value = median(apply);
  const baseline = median(floor);
  report('egress_rules_apply_p50_ms', value, 'ms', { value: baseline, ratio: baseline / value });
} finally {
  execFileSync('ip', ['netns', 'del', ns]);
}
