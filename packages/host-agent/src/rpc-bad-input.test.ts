// Bad input on every RPC of the host agent: each gets a clear error with a stable code, and changes
// nothing. One real VM (for the calls that reach a guest), shared by every test in the file.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { PrefetchPolicy } from '@amber/proto/hostagent';
import { Code, ConnectError } from '@connectrpc/connect';
import { qemuOverheadMib } from './qemu-overhead.js';
import { execText, readText, startTestAgent, type TestAgent } from './test-support/test-agent.js';

let t: TestAgent;
let id: string;
before(async () => {
  t = await startTestAgent({ memoryBudgetMib: 2048, vmPoolShapes: 0 });
  const { sandbox } = await t.client.createSandbox({ spec: { memoryMib: 256 } });
  assert.ok(sandbox);
  id = sandbox.id;
});
after(async () => {
  await t?.stop();
});

function rejectsWith(code: Code, pattern: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof ConnectError, `expected a ConnectError, got ${err}`);
    assert.equal(err.code, code, `${Code[err.code]}: ${err.rawMessage}`);
    assert.match(err.rawMessage, pattern);
    assert.doesNotMatch(err.rawMessage, /\n\s+at /, 'no stack trace in errors');
    return true;
  };
}

async function drain<T>(stream: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of stream) out.push(item);
  return out;
}

type Part =
  | { case: 'header'; value: { sandboxId: string; path: string } }
  | { case: 'data'; value: Uint8Array };
function writeStream(parts: Part[]) {
  return t.client.writeFile(
    (async function* () {
      for (const part of parts) yield { part };
    })(),
  );
}

const BAD_PATHS: Array<[string, string, RegExp]> = [
  ['empty', '', /path is required/],
  ['with a NUL byte', '/root/a\0b', /must not contain NUL/],
  ['longer than 4096', `/${'a'.repeat(4096)}`, /longer than 4096/],
];

describe('sandbox ids', () => {
  test('an unknown or malformed id is not_found on every sandbox RPC', async () => {
    for (const sandboxId of ['nosuchsandbox0000000', '../../etc/passwd', '', 'x'.repeat(10_000)]) {
      const nf = rejectsWith(Code.NotFound, /not found/);
      await assert.rejects(t.client.getSandbox({ sandboxId }), nf);
      await assert.rejects(t.client.destroySandbox({ sandboxId }), nf);
      await assert.rejects(t.client.ping({ sandboxId }), nf);
      await assert.rejects(t.client.pauseSandbox({ sandboxId }), nf);
      await assert.rejects(t.client.resumeSandbox({ sandboxId }), nf);
      await assert.rejects(t.client.forkSandbox({ sandboxId, count: 1 }), nf);
      await assert.rejects(t.client.createSnapshot({ sandboxId, name: 'fine-name' }), nf);
      await assert.rejects(drain(t.client.exec({ sandboxId, cmd: 'true' })), nf);
      await assert.rejects(drain(t.client.readFile({ sandboxId, path: '/etc/hostname' })), nf);
      await assert.rejects(writeStream([{ case: 'header', value: { sandboxId, path: '/root/x' } }]), nf);
    }
  });
});

describe('guest paths and WriteFile streams', () => {
  test('empty, NUL and over-long paths are refused by ReadFile and WriteFile', async () => {
    for (const [what, path, message] of BAD_PATHS) {
      await assert.rejects(
        drain(t.client.readFile({ sandboxId: id, path })),
        rejectsWith(Code.InvalidArgument, message),
        `ReadFile, ${what}`,
      );
      await assert.rejects(
        writeStream([
          { case: 'header', value: { sandboxId: id, path } },
          { case: 'data', value: Buffer.from('x') },
        ]),
        rejectsWith(Code.InvalidArgument, message),
        `WriteFile, ${what}`,
      );
    }
  });

  test('a WriteFile without a header, with data first, or with a second header is refused', async () => {
    const header: Part = { case: 'header', value: { sandboxId: id, path: '/root/stream.txt' } };
    const data: Part = { case: 'data', value: Buffer.from('data\n') };
    const mustStart = rejectsWith(Code.InvalidArgument, /first WriteFile message must be a header/);
    await assert.rejects(writeStream([]), mustStart, 'no message at all');
    await assert.rejects(writeStream([data]), mustStart, 'data only');
    await assert.rejects(writeStream([data, header]), mustStart, 'data first');
    await assert.rejects(
      writeStream([header, data, header, data]),
      rejectsWith(Code.InvalidArgument, /only data may follow the header/),
    );
    // A good stream still works afterwards, and a refused one did not leave a half-written file.
    await writeStream([header, data]);
    assert.equal(await readText(t.client, id, '/root/stream.txt'), 'data\n');
  });

  test('an exec without a command is refused', async () => {
    await assert.rejects(
      drain(t.client.exec({ sandboxId: id, cmd: '' })),
      rejectsWith(Code.InvalidArgument, /cmd/),
    );
  });
});

describe('specs, names and counts', () => {
  test('TTL, metadata, memory, vCPUs and prefetch out of bounds are refused by create', async () => {
    const max = t.agent.config.maxTtlSeconds;
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ ttlSeconds: max + 1 }, new RegExp(`ttl_seconds must be between 1 and ${max} seconds`)],
      [
        { metadata: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v'])) },
        /at most 64 keys/,
      ],
      [{ metadata: { ['k'.repeat(129)]: 'v' } }, /keys may be 128 and values 1024 characters/],
      [{ metadata: { k: 'v'.repeat(1025) } }, /keys may be 128 and values 1024 characters/],
      [{ memoryMib: 127 }, /memory_mib must be between 128/],
      [{ vcpus: t.agent.config.maxVcpus + 1 }, /vcpus must be between 1 and/],
      [{ prefetch: 99 as PrefetchPolicy }, /unknown prefetch policy 99/],
    ];
    for (const [spec, message] of cases)
      await assert.rejects(
        t.client.createSandbox({ spec }),
        rejectsWith(Code.InvalidArgument, message),
        JSON.stringify(spec).slice(0, 80),
      );
  });

  test('ping and resume refuse a TTL beyond the maximum; resume an unknown prefetch policy', async () => {
    const tooLong = t.agent.config.maxTtlSeconds + 1;
    await assert.rejects(
      t.client.ping({ sandboxId: id, ttlSeconds: tooLong }),
      rejectsWith(Code.InvalidArgument, /ttl_seconds must be between/),
    );
    await assert.rejects(
      t.client.resumeSandbox({ sandboxId: id, ttlSeconds: tooLong }),
      rejectsWith(Code.InvalidArgument, /ttl_seconds must be between/),
    );
    await assert.rejects(
      t.client.resumeSandbox({ sandboxId: id, prefetch: 42 as PrefetchPolicy }),
      rejectsWith(Code.InvalidArgument, /unknown prefetch policy 42/),
    );
  });

  test('template names that are paths, empty, upper case or too long are refused everywhere', async () => {
    for (const name of ['../x', 'a/b', '', '.hidden', 'UPPER', 'x'.repeat(64), 'nul\0name', ' space']) {
      const invalid = rejectsWith(Code.InvalidArgument, /template name must be 1-63 characters/);
      await assert.rejects(t.client.createSnapshot({ sandboxId: id, name }), invalid, JSON.stringify(name));
      await assert.rejects(t.client.deleteSnapshot({ name }), invalid, JSON.stringify(name));
      if (name !== '')
        await assert.rejects(
          t.client.createSandbox({ spec: { template: name } }),
          invalid,
          JSON.stringify(name),
        );
    }
    await assert.rejects(
      t.client.createSandbox({ spec: { template: 'no-such-template' } }),
      rejectsWith(Code.NotFound, /template no-such-template not found/),
    );
    await assert.rejects(
      t.client.deleteSnapshot({ name: 'no-such-template' }),
      rejectsWith(Code.NotFound, /not found/),
    );
  });

  // A count below 0 cannot be sent: the field is a uint32, and the client refuses to encode one.
  test('a fork count of 0 or beyond the maximum is refused', async () => {
    for (const count of [0, 1_000_000, 2 ** 32 - 1])
      await assert.rejects(
        t.client.forkSandbox({ sandboxId: id, count }),
        rejectsWith(Code.InvalidArgument, /count must be between 1 and \d+, got/),
        String(count),
      );
  });

  test('none of it changed anything: one sandbox, still running and answering, no template', async () => {
    assert.deepEqual(
      t.agent.manager.list().map((s) => [s.id, s.state]),
      [[id, 'running']],
    );
    assert.deepEqual((await t.client.listSnapshots({})).snapshots, []);
    assert.equal((await execText(t.client, id, 'echo', ['still here'])).stdout, 'still here\n');
    const info = await t.client.getHostInfo({});
    assert.equal(
      info.memoryCommittedMib,
      BigInt(256 + qemuOverheadMib(t.agent.config)),
      'only the one sandbox holds memory',
    );
  });
});
