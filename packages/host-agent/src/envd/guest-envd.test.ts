// envd inside a real VM (QEMU on TCG), over the real channel: Connect clients generated from the
// project's protos and plain HTTP, connecting inside the sandbox's network namespace.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { EventType, type FilesystemEvent } from '@amber/proto/filesystem';
import type { Signal, StartResponse } from '@amber/proto/process';
import { Code, ConnectError } from '@connectrpc/connect';
import { startTestAgent, type TestAgent } from '../test-support/test-agent.js';
import { type GuestEnvd, guestEnvd, readAll, runInGuest } from './guest-envd-clients.js';

const MIB = 1 << 20;
/**
 * How far the guest clock may be from the host's after /init: the host time in /init is taken when it is
 * sent and the guest sets it on receipt, so on a loaded 2-core host it lands up to ~1 s behind (seen:
 * 1.04 s at load 13). Still far below what a stale clock shows after the test's 6 s pause.
 */
const CLOCK_SLACK_S = 2.5;
let t: TestAgent;
let id: string;
let envd: GuestEnvd;

before(async () => {
  t = await startTestAgent({ memoryBudgetMib: 2048 });
  const { sandbox } = await t.client.createSandbox({ spec: { memoryMib: 512 } });
  assert.ok(sandbox);
  id = sandbox.id;
  envd = guestEnvd(t, id);
});
after(async () => {
  await t?.stop();
});

async function pauseResume() {
  await t.client.pauseSandbox({ sandboxId: id });
  await t.client.resumeSandbox({ sandboxId: id });
}

function rejectsWith(code: Code, message?: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof ConnectError, `expected a ConnectError, got ${err}`);
    assert.equal(err.code, code, `${Code[err.code]}: ${err.rawMessage}`);
    if (message) assert.match(err.rawMessage, message);
    return true;
  };
}

/** Reads a Start/Connect stream in the background; `until` waits for what the output must show. */
function follow(stream: AsyncIterable<{ event?: StartResponse['event'] }>) {
  const state = {
    pid: 0,
    pty: '',
    stdout: '',
    stderr: '',
    end: undefined as undefined | { exitCode: number; status: string },
  };
  const done = (async () => {
    for await (const res of stream) {
      const e = res.event?.event;
      if (e?.case === 'start') state.pid = e.value.pid;
      if (e?.case === 'data') {
        const text = Buffer.from(e.value.output.value ?? new Uint8Array()).toString();
        if (e.value.output.case === 'pty') state.pty += text;
        if (e.value.output.case === 'stdout') state.stdout += text;
        if (e.value.output.case === 'stderr') state.stderr += text;
      }
      if (e?.case === 'end') state.end = { exitCode: e.value.exitCode, status: e.value.status };
    }
  })();
  done.catch(() => undefined);
  const until = async (predicate: () => boolean, what: string) => {
    const deadline = Date.now() + 120_000;
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(state)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return { state, done, until };
}

const screen = (out: string) =>
  out.replace(new RegExp(`${String.fromCharCode(27)}\\[[0-9;?]*[a-zA-Z]`, 'g'), '').replace(/\r/g, '');
const ptyInput = (text: string) => ({ input: { case: 'pty' as const, value: Buffer.from(text) } });

describe('envd in a real VM', { timeout: 900_000 }, () => {
  test('the default image: python3, pip, git, curl, sudo for user, a UTF-8 locale', async () => {
    const proc = envd.process('user');
    const py = await runInGuest(proc, 'python3', ['-c', 'print(1+1)']);
    assert.deepEqual([py.stdout, py.end?.exitCode], ['2\n', 0]);
    const tools = await runInGuest(proc, 'sh', [
      '-c',
      'python --version && pip --version >/dev/null && python3 -m venv --help >/dev/null && git --version && curl --version | head -1 && sudo -n id -u && echo "$LANG" && id -un && pwd',
    ]);
    assert.equal(tools.end?.exitCode, 0, tools.stderr);
    const lines = tools.stdout.trim().split('\n');
    assert.match(lines[0] ?? '', /^Python 3\./);
    assert.match(lines[1] ?? '', /^git version /);
    assert.match(lines[2] ?? '', /^curl /);
    assert.deepEqual(lines.slice(3), ['0', 'C.UTF-8', 'user', '/home/user']);
  });

  test('the guest kernel runs no housekeeping a sandbox does not need: proactive compaction off, vmstat every 10 s, no IPv6 on eth0', async () => {
    const read = await runInGuest(envd.process('user'), 'cat', [
      '/proc/sys/vm/compaction_proactiveness',
      '/proc/sys/vm/stat_interval',
      '/proc/sys/net/ipv6/conf/eth0/disable_ipv6',
    ]);
    assert.equal(read.end?.exitCode, 0, read.stderr);
    assert.deepEqual(read.stdout.trim().split('\n'), ['0', '10', '1']);
  });

  test('foreground and background commands: exit codes, stderr, list, re-attach, stdin, signals', async () => {
    const proc = envd.process('user');
    const fg = await runInGuest(proc, 'sh', ['-c', 'echo out; echo err >&2; exit 7']);
    assert.deepEqual(fg, { stdout: 'out\n', stderr: 'err\n', end: { exitCode: 7, status: 'exit status 7' } });

    const bgAbort = new AbortController();
    const bg = follow(
      proc.start(
        {
          process: {
            cmd: 'sh',
            args: ['-c', 'read a; echo "a=$a"; read b; echo "b=$b" >&2; exit 3'],
            envs: {},
          },
          tag: 'bg',
        },
        { signal: bgAbort.signal },
      ),
    );
    await bg.until(() => bg.state.pid > 0, 'the start event');
    bgAbort.abort(); // the process outlives its stream
    const listed = await proc.list({});
    assert.ok(listed.processes.some((p) => p.pid === bg.state.pid && p.tag === 'bg'));
    const again = follow(proc.connect({ process: { selector: { case: 'tag', value: 'bg' } } }));
    await again.until(() => again.state.pid === bg.state.pid, 're-attached');
    const sel = { selector: { case: 'pid' as const, value: bg.state.pid } };
    await proc.sendInput({ process: sel, input: { input: { case: 'stdin', value: Buffer.from('one\n') } } });
    await again.until(() => again.state.stdout === 'a=one\n', 'the first line');
    await proc.streamInput(
      (async function* () {
        yield { event: { case: 'start' as const, value: { process: sel } } };
        yield {
          event: {
            case: 'data' as const,
            value: { input: { input: { case: 'stdin' as const, value: Buffer.from('two\n') } } },
          },
        };
      })(),
    );
    await again.done;
    assert.deepEqual(again.state.end, { exitCode: 3, status: 'exit status 3' });
    assert.equal(again.state.stderr, 'b=two\n');

    const sleeper = follow(proc.start({ process: { cmd: 'sleep', args: ['600'], envs: {} }, stdin: false }));
    await sleeper.until(() => sleeper.state.pid > 0, 'sleep started');
    await proc.sendSignal({
      process: { selector: { case: 'pid', value: sleeper.state.pid } },
      signal: 9 as Signal,
    });
    await sleeper.done;
    assert.deepEqual(sleeper.state.end, { exitCode: -1, status: 'signal: killed' });
  });

  test('a PTY running bash: echo, resize, and the same PTY after a pause/resume, then exit with its code', async () => {
    const proc = envd.process('user');
    const abort = new AbortController();
    const term = follow(
      proc.start(
        {
          process: { cmd: '/bin/bash', args: ['--norc', '--noprofile', '-i'], envs: { PS1: 'amber$ ' } },
          pty: { size: { cols: 80, rows: 24 } },
          tag: 'term',
        },
        { signal: abort.signal },
      ),
    );
    await term.until(() => term.state.pty.includes('amber$ '), 'the prompt');
    const sel = { selector: { case: 'tag' as const, value: 'term' } };
    await proc.sendInput({ process: sel, input: ptyInput('echo hi-$((6*7))\r') });
    await term.until(() => screen(term.state.pty).includes('echo hi-$((6*7))\nhi-42\n'), 'the echo');
    await proc.sendInput({ process: sel, input: ptyInput('tput cols\r') });
    await term.until(() => screen(term.state.pty).includes('\n80\n'), 'tput cols = 80');
    await proc.update({ process: sel, pty: { size: { cols: 123, rows: 40 } } });
    await proc.sendInput({ process: sel, input: ptyInput('tput cols\r') });
    await term.until(() => screen(term.state.pty).includes('\n123\n'), 'tput cols = 123');
    abort.abort();

    await pauseResume();
    const after = follow(proc.connect({ process: sel }));
    await after.until(() => after.state.pid > 0, 're-attached to the terminal');
    await proc.sendInput({ process: sel, input: ptyInput('echo still-$((40+2)); tput cols\r') });
    await after.until(() => screen(after.state.pty).includes('\nstill-42\n123\n'), 'the PTY after resume');
    await proc.sendInput({ process: sel, input: ptyInput('exit 4\r') });
    await after.done;
    assert.deepEqual(after.state.end, { exitCode: 4, status: 'exit status 4' });
  });

  test('files: a 3-file multipart upload as user, rename, remove, stat of a missing path', async () => {
    const boundary = `----amber${randomBytes(8).toString('hex')}`;
    const parts = [
      ['up/a.txt', 'a'],
      ['up/b.txt', 'bb'],
      ['/home/user/up/c.txt', 'ccc'],
    ]
      .map(
        ([name, data]) =>
          `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\n\r\n${data}\r\n`,
      )
      .join('');
    const res = await envd.http('POST', '/files?username=user', {
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
      body: `${parts}--${boundary}--\r\n`,
    });
    assert.equal(res.statusCode, 200, (await readAll(res)).toString());
    const fs = envd.filesystem('user');
    const listed = await fs.listDir({ path: 'up' });
    assert.deepEqual(
      listed.entries.map((e) => [e.path, Number(e.size), e.permissions, e.owner, e.group]),
      [
        ['/home/user/up/a.txt', 1, '-rw-r--r--', 'user', 'user'],
        ['/home/user/up/b.txt', 2, '-rw-r--r--', 'user', 'user'],
        ['/home/user/up/c.txt', 3, '-rw-r--r--', 'user', 'user'],
      ],
    );
    const moved = await fs.move({ source: 'up/a.txt', destination: '~/up/renamed.txt' });
    assert.equal(moved.entry?.path, '/home/user/up/renamed.txt');
    await fs.remove({ path: '/home/user/up/b.txt' });
    await assert.rejects(fs.stat({ path: 'up/b.txt' }), rejectsWith(Code.NotFound));
    assert.deepEqual(
      (await fs.listDir({ path: '~/up' })).entries.map((e) => e.name),
      ['c.txt', 'renamed.txt'],
    );
  });

  test('a 50 MiB upload and download keep their sha256 and envd grows by less than 16 MiB', async () => {
    const root = envd.process('root');
    // VmHWM (peak RSS) is reset by writing 5 to clear_refs, so the peak measured is this transfer's.
    const rss = async (reset: boolean) => {
      const r = await runInGuest(root, 'sh', [
        '-c',
        `pid=$(pgrep -f envd.cjs | head -1); ${reset ? 'echo 5 > /proc/$pid/clear_refs;' : ''} grep -E 'VmRSS|VmHWM' /proc/$pid/status`,
      ]);
      const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(r.stdout)?.[1]) * 1024;
      return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
    };
    const before = await rss(true);
    const data = randomBytes(50 * MIB);
    const sha = createHash('sha256').update(data).digest('hex');
    const chunks = function* () {
      for (let at = 0; at < data.length; at += MIB) yield data.subarray(at, at + MIB);
    };
    const up = await envd.http('POST', '/files?username=user&path=big.bin', {
      headers: { 'content-type': 'application/octet-stream' },
      body: Readable.from(chunks()),
    });
    assert.equal(up.statusCode, 200, (await readAll(up)).toString());
    const inGuest = await runInGuest(root, 'sha256sum', ['/home/user/big.bin']);
    assert.equal(inGuest.stdout.split(' ')[0], sha);
    const down = await envd.http('GET', '/files?username=user&path=big.bin');
    assert.equal(down.statusCode, 200);
    const hash = createHash('sha256');
    for await (const chunk of down) hash.update(chunk as Buffer);
    assert.equal(hash.digest('hex'), sha);
    const afterTransfer = await rss(false);
    assert.ok(
      afterTransfer.hwm - before.rss < 16 * MIB,
      `envd peak RSS ${afterTransfer.hwm} vs ${before.rss} before: +${((afterTransfer.hwm - before.rss) / MIB).toFixed(1)} MiB`,
    );
    await envd.filesystem('user').remove({ path: 'big.bin' });
  });

  test('WatchDir reports create, write, rename and remove of 100 files in order, none missed', async () => {
    const fs = envd.filesystem('user');
    await fs.makeDir({ path: 'watched' });
    const abort = new AbortController();
    const it = fs
      .watchDir({ path: 'watched', recursive: true }, { signal: abort.signal })
      [Symbol.asyncIterator]();
    assert.equal((await it.next()).value?.event.case, 'start');
    const burst = await runInGuest(envd.process('user'), 'sh', [
      '-c',
      'cd ~/watched && i=0; while [ $i -lt 100 ]; do echo data > f$i; mv f$i g$i; rm g$i; i=$((i+1)); done',
    ]);
    assert.equal(burst.end?.exitCode, 0, burst.stderr);
    const expected: string[] = [];
    for (let i = 0; i < 100; i++)
      expected.push(`CREATE f${i}`, `WRITE f${i}`, `RENAME f${i}`, `CREATE g${i}`, `REMOVE g${i}`);
    const seen: FilesystemEvent[] = [];
    while (seen.length < expected.length) {
      const next = await it.next();
      assert.ok(!next.done, 'the watch ended early');
      if (next.value.event.case === 'filesystem') seen.push(next.value.event.value);
    }
    assert.deepEqual(
      seen.map((e) => `${EventType[e.type]} ${e.name}`),
      expected,
    );
    abort.abort();
    await it.return?.();
  });

  test('after pause/resume: the first process sees the host clock, processes are re-attached, stdin still works', async () => {
    const proc = envd.process('user');
    const abort = new AbortController();
    const ticker = follow(
      proc.start(
        {
          process: {
            cmd: 'sh',
            args: ['-c', 'i=0; while [ $i -lt 300 ]; do echo tick $i; i=$((i+1)); sleep 1; done'],
            envs: {},
          },
          tag: 'ticker',
          stdin: false,
        },
        { signal: abort.signal },
      ),
    );
    await ticker.until(() => ticker.state.stdout.includes('tick 0'), 'the first tick');
    abort.abort();
    // A reader whose stdin pipe must survive the snapshot: it echoes what it reads, then says EOF.
    const readerAbort = new AbortController();
    const reader = follow(
      proc.start(
        {
          process: { cmd: 'sh', args: ['-c', 'cat; echo "<eof>"; exec sleep 600'], envs: {} },
          tag: 'reader',
        },
        { signal: readerAbort.signal },
      ),
    );
    await reader.until(() => reader.state.pid > 0, 'the reader started');
    const readerSel = { selector: { case: 'pid' as const, value: reader.state.pid } };
    await proc.sendInput({
      process: readerSel,
      input: { input: { case: 'stdin', value: Buffer.from('before ') } },
    });
    await reader.until(() => reader.state.stdout === 'before ', 'input before the pause');
    readerAbort.abort();
    await t.client.pauseSandbox({ sandboxId: id });
    await new Promise((r) => setTimeout(r, 6000));
    await t.client.resumeSandbox({ sandboxId: id });
    // The clock gate: /init answers before the guest clock is set, so the first process started right
    // after it must wait for the setting (a clock left stale by the pause would be 5 s or more behind).
    const gateBefore = Date.now() / 1000;
    const first = await runInGuest(proc, 'date', ['+%s.%N']);
    const gateAfter = Date.now() / 1000;
    assert.ok(
      Number(first.stdout) > gateBefore - CLOCK_SLACK_S && Number(first.stdout) < gateAfter + CLOCK_SLACK_S,
      `first guest clock ${first.stdout.trim()} within ${CLOCK_SLACK_S} s of the host's [${gateBefore.toFixed(3)}, ${gateAfter.toFixed(3)}]`,
    );
    // Connect re-attaches to the reader (no replay of old output); SendInput and CloseStdin reach it.
    const reattached = follow(proc.connect({ process: { selector: { case: 'tag', value: 'reader' } } }));
    await reattached.until(() => reattached.state.pid === reader.state.pid, 're-attached to the reader');
    await proc.sendInput({
      process: readerSel,
      input: { input: { case: 'stdin', value: Buffer.from('after') } },
    });
    await reattached.until(() => reattached.state.stdout === 'after', 'input after the resume');
    await proc.closeStdin({ process: readerSel });
    await reattached.until(() => reattached.state.stdout === 'after<eof>\n', 'EOF after CloseStdin');
    await assert.rejects(
      proc.sendInput({ process: readerSel, input: { input: { case: 'stdin', value: Buffer.from('x') } } }),
      rejectsWith(Code.FailedPrecondition, /no open stdin/),
    );
    await proc.sendSignal({ process: readerSel, signal: 9 as Signal });
    await reattached.done;
    assert.deepEqual(reattached.state.end, { exitCode: -1, status: 'signal: killed' });
    await assert.rejects(
      proc.connect({ process: readerSel })[Symbol.asyncIterator]().next(),
      rejectsWith(Code.NotFound),
    );
    const listed = await proc.list({});
    assert.ok(listed.processes.some((p) => p.pid === ticker.state.pid && p.tag === 'ticker'));
    const again = follow(proc.connect({ process: { selector: { case: 'tag', value: 'ticker' } } }));
    await again.until(() => /tick \d+\n/.test(again.state.stdout), 'output after resume');
    // The guest read its clock somewhere between these two host times: within the slack of that window
    // means the clock was set (a clock left stale by the pause would be 6 s or more behind it).
    const hostBefore = Date.now() / 1000;
    const date = await runInGuest(proc, 'date', ['+%s.%N']);
    const hostAfter = Date.now() / 1000;
    const guest = Number(date.stdout);
    assert.ok(
      guest > hostBefore - CLOCK_SLACK_S && guest < hostAfter + CLOCK_SLACK_S,
      `guest clock ${guest.toFixed(3)} within ${CLOCK_SLACK_S} s of the host's [${hostBefore.toFixed(3)}, ${hostAfter.toFixed(3)}]`,
    );
    await proc.sendSignal({ process: { selector: { case: 'tag', value: 'ticker' } }, signal: 15 as Signal });
    await again.done;
  });

  test('bad input gets E2B codes and clear messages, and envd keeps serving', async () => {
    const proc = envd.process('root');
    const fs = envd.filesystem('root');
    await assert.rejects(
      proc.sendSignal({ process: { selector: { case: 'pid', value: 999_999 } }, signal: 9 as Signal }),
      rejectsWith(Code.NotFound, /999999/),
    );
    const sleeper = follow(proc.start({ process: { cmd: 'sleep', args: ['600'], envs: {} } }));
    await sleeper.until(() => sleeper.state.pid > 0, 'sleep started');
    const sel = { selector: { case: 'pid' as const, value: sleeper.state.pid } };
    await assert.rejects(
      proc.sendSignal({ process: sel, signal: 1 as Signal }),
      rejectsWith(Code.InvalidArgument, /signal/),
    );
    await assert.rejects(fs.stat({ path: '/../../etc' }), rejectsWith(Code.InvalidArgument, /climbs above/));
    await assert.rejects(
      fs.listDir({ path: '/etc/hostname' }),
      rejectsWith(Code.InvalidArgument, /not a directory/),
    );
    const form = await envd.http('POST', '/files?username=root', {
      headers: { 'content-type': 'multipart/form-data; boundary=xyz' },
      body: '--xyz\r\nContent-Disposition: form-data; name="other"\r\n\r\nvalue\r\n--xyz--\r\n',
    });
    assert.equal(form.statusCode, 400);
    assert.match(JSON.parse((await readAll(form)).toString()).message, /no file part/);
    const dirAsFile = await envd.http('POST', '/files?username=root&path=/etc', {
      headers: { 'content-type': 'application/octet-stream' },
      body: 'x',
    });
    assert.equal(dirAsFile.statusCode, 400);
    assert.match(JSON.parse((await readAll(dirAsFile)).toString()).message, /is a directory/);

    const token = randomBytes(16).toString('hex');
    const set = await envd.http('POST', '/init', { body: JSON.stringify({ accessToken: token }) });
    assert.equal(set.statusCode, 204);
    try {
      const denied = await envd.http('GET', '/files?path=/etc/hostname');
      assert.equal(denied.statusCode, 401);
      assert.match(JSON.parse((await readAll(denied)).toString()).message, /access token/);
      await assert.rejects(proc.list({}), rejectsWith(Code.Unauthenticated));
      assert.ok((await envd.process('root', token).list({})).processes.length > 0);
    } finally {
      const clear = await envd.http('POST', '/init', {
        headers: { 'x-access-token': token },
        body: JSON.stringify({ accessToken: '' }),
      });
      assert.equal(clear.statusCode, 204);
    }
    await proc.sendSignal({ process: sel, signal: 9 as Signal });
    await sleeper.done;
    assert.equal((await runInGuest(proc, 'echo', ['alive'])).stdout, 'alive\n');
  });
});
