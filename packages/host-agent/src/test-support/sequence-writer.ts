// A guest process appending consecutive numbers to a file: after any pause, stop or crash the file must hold
// 1..n with no gap or repeat, and the process must still be appending.
import type { HostAgentClient } from '../rpc/client.js';
import { execText, readText } from './test-agent.js';

export const SEQUENCE_FILE = '/root/seq';

const WRITER = `i=0; while :; do i=$((i+1)); echo $i >> ${SEQUENCE_FILE}; sleep 0.05; done`;

export async function startSequenceWriter(client: HostAgentClient, id: string): Promise<void> {
  const run = await execText(client, id, 'sh', ['-c', `nohup sh -c '${WRITER}' >/dev/null 2>&1 &`]);
  if (run.exitCode !== 0) throw new Error(`the writer did not start: ${run.stderr}`);
  await sequenceLength(client, id, 1);
}

/** The numbers in the file; throws on a gap, a repeat or a damaged line. */
export async function readSequence(client: HostAgentClient, id: string): Promise<number> {
  const text = await readText(client, id, SEQUENCE_FILE);
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  lines.forEach((line, i) => {
    if (line !== String(i + 1))
      throw new Error(`sequence broken at line ${i + 1}: "${line}" (after "${lines[i - 1] ?? ''}")`);
  });
  return lines.length;
}

/** Waits until the file holds more than `atLeast` numbers, which proves the writer is alive. */
export async function sequenceLength(
  client: HostAgentClient,
  id: string,
  atLeast: number,
  timeoutMs = 60_000,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const length = await readSequence(client, id).catch((err: Error) => {
      if (/sequence broken/.test(err.message)) throw err;
      return 0;
    });
    if (length > atLeast) return length;
    if (Date.now() > deadline) throw new Error(`the writer stopped at ${length} (waited for > ${atLeast})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
