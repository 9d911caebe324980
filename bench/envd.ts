// envd's interactive paths on a real VM: a keystroke into a PTY to its echo (the terminal's feel), and a
// ListDir of 1,000 files (a file browser's). Both go over the real channel into the guest (a TCP socket
// made inside the sandbox's network namespace), with Connect clients from the project's protos.
import { connectInNetns } from '@amber/native';
import { Filesystem } from '@amber/proto/filesystem';
import { Process } from '@amber/proto/process';
import { createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { startBenchAgent } from './lib/agent.js';
import { median, percentile, progress, report } from './lib/report.js';

// Every guest has this address in its own namespace (host-agent's GUEST_NET), and envd listens here.
const GUEST_IP = '169.254.0.21';
const ENVD_PORT = 49983;
const KEYSTROKES = 40;
const LISTINGS = 7;

const bench = await startBenchAgent({ memoryBudgetMib: 2048 });
try {
  const { sandbox } = await bench.client.createSandbox({ spec: { memoryMib: 512 } });
  if (!sandbox) throw new Error('no sandbox');
  const runtime = bench.agent.manager.get(sandbox.id).runtime;
  if (!runtime) throw new Error('the sandbox is not running');
  const nsPath = runtime.slot.nsPath;
  const transport = createConnectTransport({
    baseUrl: `http://${GUEST_IP}:${ENVD_PORT}`,
    httpVersion: '1.1',
    nodeOptions: { createConnection: () => connectInNetns(nsPath, GUEST_IP, ENVD_PORT) },
  });
  const proc = createClient(Process, transport);
  const fs = createClient(Filesystem, transport);

  // --- pty_echo_p50_ms
  let output = '';
  let waiter: (() => void) | undefined;
  const abort = new AbortController();
  const stream = proc.start(
    {
      process: { cmd: '/bin/bash', args: ['--norc', '--noprofile', '-i'], envs: { PS1: '$ ' } },
      pty: { size: { cols: 200, rows: 50 } },
      tag: 'bench-pty',
    },
    { signal: abort.signal },
  );
  const reading = (async () => {
    for await (const res of stream) {
      const e = res.event?.event;
      if (e?.case === 'data' && e.value.output.case === 'pty') {
        output += Buffer.from(e.value.output.value).toString();
        waiter?.();
      }
    }
  })().catch(() => undefined);
  const until = async (predicate: () => boolean) => {
    while (!predicate()) await new Promise<void>((r) => (waiter = r));
  };
  await until(() => output.includes('$ '));
  const sel = { selector: { case: 'tag' as const, value: 'bench-pty' } };
  const echoes: number[] = [];
  for (let i = 0; i < KEYSTROKES; i++) {
    const key = String.fromCharCode(97 + (i % 26));
    const seen = output.length;
    const started = performance.now();
    await proc.sendInput({ process: sel, input: { input: { case: 'pty', value: Buffer.from(key) } } });
    await until(() => output.slice(seen).includes(key));
    echoes.push(performance.now() - started);
    if (i % 20 === 19)
      await proc.sendInput({ process: sel, input: { input: { case: 'pty', value: Buffer.from('\x15') } } });
  }
  progress(`pty echo: p50 ${median(echoes).toFixed(1)} ms, p90 ${percentile(echoes, 90).toFixed(1)} ms`);
  report('pty_echo_p50_ms', median(echoes), 'ms');
  await proc.sendInput({ process: sel, input: { input: { case: 'pty', value: Buffer.from('\x15exit\r') } } });
  abort.abort();
  await reading;

  // --- fs_list_1000_ms
  for await (const _ of proc.start({
    process: {
      cmd: 'sh',
      args: ['-c', 'mkdir -p /tmp/list && cd /tmp/list && seq -f f%04g 1000 | xargs touch'],
      envs: {},
    },
    stdin: false,
  })) {
    // drain to the end event
  }
  const listings: number[] = [];
  for (let i = 0; i < LISTINGS; i++) {
    const started = performance.now();
    const { entries } = await fs.listDir({ path: '/tmp/list', depth: 1 });
    listings.push(performance.now() - started);
    if (entries.length !== 1000) throw new Error(`listed ${entries.length} entries, expected 1000`);
  }
  progress(`ListDir of 1000: ${listings.map((ms) => ms.toFixed(0)).join(', ')} ms`);
  report('fs_list_1000_ms', median(listings), 'ms');
} finally {
  await bench.stop();
}
