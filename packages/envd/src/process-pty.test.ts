import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Signal, StartResponse } from '@amber/proto/process';
import { Code, ConnectError } from '@connectrpc/connect';
import { startTestEnvd, type TestEnvd } from './test-envd.js';

let envd: TestEnvd;
before(async () => {
  envd = await startTestEnvd();
});
after(() => envd.close());

/** Reads a Start/Connect stream in the background, collecting output, until its end event. */
function collect(stream: AsyncIterable<{ event?: StartResponse['event'] }>) {
  const state = {
    pid: 0,
    out: '',
    stdout: '',
    stderr: '',
    end: undefined as undefined | { exitCode: number; status: string },
  };
  let wake: (() => void) | undefined;
  const done = (async () => {
    for await (const res of stream) {
      const e = res.event?.event;
      if (e?.case === 'start') state.pid = e.value.pid;
      if (e?.case === 'data') {
        const text = Buffer.from(e.value.output.value ?? new Uint8Array()).toString();
        if (e.value.output.case === 'pty') state.out += text;
        if (e.value.output.case === 'stdout') state.stdout += text;
        if (e.value.output.case === 'stderr') state.stderr += text;
      }
      if (e?.case === 'end') state.end = { exitCode: e.value.exitCode, status: e.value.status };
      wake?.();
    }
    wake?.();
  })();
  const until = async (predicate: () => boolean, what: string) => {
    const deadline = Date.now() + 60_000;
    while (!predicate()) {
      if (Date.now() > deadline)
        throw new Error(
          `timed out waiting for ${what}; output so far: ${JSON.stringify(state.out + state.stdout)}`,
        );
      await Promise.race([
        new Promise<void>((r) => (wake = r)),
        new Promise((r) => setTimeout(r, 200)),
        done,
      ]);
    }
  };
  return { state, done, until };
}

/** Terminal output without escape sequences and carriage returns. */
function screen(out: string): string {
  return out.replace(new RegExp(`${String.fromCharCode(27)}\\[[0-9;?]*[a-zA-Z]`, 'g'), '').replace(/\r/g, '');
}

function rejectsWith(code: Code) {
  return (err: unknown) => err instanceof ConnectError && err.code === code;
}

describe('PTY processes', () => {
  test('bash in a terminal echoes input, follows a resize, and exits with its code', async () => {
    const proc = envd.process('user');
    const run = collect(
      proc.start({
        process: { cmd: '/bin/bash', args: ['--norc', '--noprofile', '-i'], envs: { PS1: 'prompt$ ' } },
        pty: { size: { cols: 80, rows: 24 } },
        tag: 'term',
      }),
    );
    await run.until(() => run.state.out.includes('prompt$ '), 'the prompt');
    const sel = { selector: { case: 'tag' as const, value: 'term' } };
    await proc.sendInput({
      process: sel,
      input: { input: { case: 'pty', value: Buffer.from('echo typed-$((40+2))\r') } },
    });
    await run.until(() => run.state.out.includes('typed-42'), 'the echo');
    assert.match(run.state.out, /echo typed-\$\(\(40\+2\)\)/, 'the typed line is echoed by the terminal');
    await proc.sendInput({
      process: sel,
      input: { input: { case: 'pty', value: Buffer.from('tput cols\r') } },
    });
    await run.until(() => screen(run.state.out).includes('\n80\n'), 'tput cols = 80');
    await proc.update({ process: sel, pty: { size: { cols: 132, rows: 40 } } });
    await proc.sendInput({
      process: sel,
      input: { input: { case: 'pty', value: Buffer.from('tput cols; id -u; echo $TERM\r') } },
    });
    await run.until(() => screen(run.state.out).includes('\n132\n1000\nxterm-256color\n'), 'tput cols = 132');
    await proc.sendInput({ process: sel, input: { input: { case: 'pty', value: Buffer.from('exit 5\r') } } });
    await run.done;
    assert.deepEqual(run.state.end, { exitCode: 5, status: 'exit status 5' });
    await assert.rejects(
      proc.update({ process: sel, pty: { size: { cols: 1, rows: 1 } } }),
      rejectsWith(Code.NotFound),
    );
  });

  test('Update on a process without a terminal, or with a zero size, is refused', async () => {
    const proc = envd.process('user');
    const run = collect(proc.start({ process: { cmd: 'sleep', args: ['30'], envs: {} }, stdin: false }));
    await run.until(() => run.state.pid > 0, 'the start event');
    const sel = { selector: { case: 'pid' as const, value: run.state.pid } };
    await assert.rejects(
      proc.update({ process: sel, pty: { size: { cols: 10, rows: 10 } } }),
      rejectsWith(Code.FailedPrecondition),
    );
    await proc.sendSignal({ process: sel, signal: 15 });
    await run.done;
    assert.equal(run.state.end?.status, 'signal: terminated');
    await assert.rejects(
      proc
        .start({ process: { cmd: 'true', args: [], envs: {} }, pty: { size: { cols: 0, rows: 0 } } })
        [Symbol.asyncIterator]()
        .next(),
      rejectsWith(Code.InvalidArgument),
    );
  });
});

describe('process input, users, env and cwd', () => {
  test('StreamInput and SendInput feed stdin in order; CloseStdin ends it', async () => {
    const proc = envd.process('user');
    const run = collect(proc.start({ process: { cmd: 'cat', args: [], envs: {} }, tag: 'cat' }));
    await run.until(() => run.state.pid > 0, 'the start event');
    const sel = { selector: { case: 'pid' as const, value: run.state.pid } };
    await proc.streamInput(
      (async function* () {
        yield { event: { case: 'start' as const, value: { process: sel } } };
        for (const part of ['one ', 'two ', 'three ']) {
          yield {
            event: {
              case: 'data' as const,
              value: { input: { input: { case: 'stdin' as const, value: Buffer.from(part) } } },
            },
          };
        }
      })(),
    );
    await proc.sendInput({ process: sel, input: { input: { case: 'stdin', value: Buffer.from('four') } } });
    await run.until(() => run.state.stdout === 'one two three four', 'the echoed input');
    const listed = await proc.list({});
    assert.ok(listed.processes.some((p) => p.pid === run.state.pid && p.tag === 'cat'));
    await proc.closeStdin({ process: sel });
    await run.done;
    assert.deepEqual(run.state.end, { exitCode: 0, status: 'exit status 0' });
  });

  test('stdin: false gives the process an immediate EOF, and input is refused', async () => {
    const run = collect(
      envd.process('user').start({ process: { cmd: 'cat', args: [], envs: {} }, stdin: false }),
    );
    await run.done;
    assert.equal(run.state.end?.exitCode, 0);
  });

  test('user selection, per-call envs over /init defaults, cwd and ~', async () => {
    const init = await fetch(`${envd.base}/init`, {
      method: 'POST',
      body: JSON.stringify({ envVars: { FROM_INIT: 'init', BOTH: 'init' } }),
    });
    assert.equal(init.status, 204);
    const script = 'echo "$(id -u) $HOME $USER $(pwd) $FROM_INIT $BOTH"';
    const asUser = collect(
      envd
        .process('user')
        .start({ process: { cmd: 'sh', args: ['-c', script], envs: { BOTH: 'call' } }, stdin: false }),
    );
    await asUser.done;
    assert.equal(asUser.state.stdout, `1000 ${envd.userHome} user ${envd.userHome} init call\n`);
    const asRoot = collect(
      envd
        .process('root')
        .start({ process: { cmd: 'sh', args: ['-c', script], envs: {}, cwd: envd.dir }, stdin: false }),
    );
    await asRoot.done;
    assert.equal(asRoot.state.stdout, `0 ${envd.rootHome} root ${envd.dir} init init\n`);
    const tilde = collect(
      envd.process('user').start({ process: { cmd: 'pwd', args: [], envs: {}, cwd: '~' }, stdin: false }),
    );
    await tilde.done;
    assert.equal(tilde.state.stdout, `${envd.userHome}\n`);
  });

  test('bad input gets E2B codes and envd keeps serving', async () => {
    const proc = envd.process('root');
    const missing = { selector: { case: 'pid' as const, value: 999_999 } };
    await assert.rejects(proc.sendSignal({ process: missing, signal: 9 }), rejectsWith(Code.NotFound));
    await assert.rejects(
      proc.connect({ process: missing })[Symbol.asyncIterator]().next(),
      rejectsWith(Code.NotFound),
    );
    const run = collect(proc.start({ process: { cmd: 'sleep', args: ['30'], envs: {} } }));
    await run.until(() => run.state.pid > 0, 'the start event');
    const sel = { selector: { case: 'pid' as const, value: run.state.pid } };
    await assert.rejects(
      proc.sendSignal({ process: sel, signal: 2 as Signal }),
      rejectsWith(Code.InvalidArgument),
    );
    await assert.rejects(
      proc
        .start({ process: { cmd: 'true', args: [], envs: {}, cwd: '/definitely/not/here' } })
        [Symbol.asyncIterator]()
        .next(),
      rejectsWith(Code.InvalidArgument),
    );
    await proc.sendSignal({ process: sel, signal: 9 });
    await run.done;
    assert.equal(run.state.end?.status, 'signal: killed');
    assert.equal((await fetch(`${envd.base}/health`)).status, 204);
  });
});
