import assert from 'node:assert/strict';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EventType, type FilesystemEvent } from '@amber/proto/filesystem';
import { Code, ConnectError } from '@connectrpc/connect';
import { startTestEnvd, type TestEnvd } from './test-envd.js';

let envd: TestEnvd;
before(async () => {
  envd = await startTestEnvd();
});
after(() => envd.close());

const short = (e: FilesystemEvent) => `${EventType[e.type]} ${e.name}`;

/** Create, write, rename and remove `count` files: the events each must produce, in order. */
function burst(dir: string, count: number, prefix = ''): string[] {
  const expected: string[] = [];
  for (let i = 0; i < count; i++) {
    writeFileSync(join(dir, `f${i}`), `data ${i}`);
    renameSync(join(dir, `f${i}`), join(dir, `g${i}`));
    rmSync(join(dir, `g${i}`));
    expected.push(
      `CREATE ${prefix}f${i}`,
      `WRITE ${prefix}f${i}`,
      `RENAME ${prefix}f${i}`,
      `CREATE ${prefix}g${i}`,
      `REMOVE ${prefix}g${i}`,
    );
  }
  return expected;
}

describe('WatchDir and watchers', () => {
  test('WatchDir reports a burst of 100 files created, written, renamed and removed, in order, none missed', {
    timeout: 120_000,
  }, async () => {
    const dir = join(envd.dir, 'watched');
    mkdirSync(join(dir, 'sub'), { recursive: true });
    const abort = new AbortController();
    const stream = envd
      .filesystem('root')
      .watchDir({ path: dir, recursive: true, includeEntry: true }, { signal: abort.signal });
    const it = stream[Symbol.asyncIterator]();
    assert.equal((await it.next()).value?.event.case, 'start');
    const seen: FilesystemEvent[] = [];
    const read = async (count: number) => {
      while (seen.length < count) {
        const next = await it.next();
        assert.ok(!next.done, 'the stream ended early');
        if (next.value.event.case === 'filesystem') seen.push(next.value.event.value);
      }
    };
    const expected = [...burst(dir, 100), ...burst(join(dir, 'sub'), 3, 'sub/')];
    mkdirSync(join(dir, 'sub/new'));
    expected.push('CREATE sub/new');
    // A new directory is watched once its create event is read (as with any inotify watcher): write
    // inside it after that.
    await read(expected.length);
    writeFileSync(join(dir, 'sub/new/inner'), 'x');
    expected.push('CREATE sub/new/inner', 'WRITE sub/new/inner');
    await read(expected.length);
    assert.deepEqual(seen.map(short), expected);
    const created = seen.find((e) => e.name === 'sub/new/inner' && e.type === EventType.WRITE);
    assert.equal(created?.entry?.path, join(dir, 'sub/new/inner'));
    abort.abort();
    await it.return?.();
  });

  test('a watcher collects events until polled, then is removed', { timeout: 120_000 }, async () => {
    const dir = join(envd.dir, 'polled');
    mkdirSync(dir);
    const fs = envd.filesystem('root');
    const { watcherId } = await fs.createWatcher({ path: dir, recursive: false });
    const expected = burst(dir, 5);
    let events: string[] = [];
    for (let i = 0; i < 100 && events.length < expected.length; i++) {
      events = events.concat((await fs.getWatcherEvents({ watcherId })).events.map(short));
      if (events.length < expected.length) await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual(events, expected);
    await fs.removeWatcher({ watcherId });
    const gone = (err: unknown) => err instanceof ConnectError && err.code === Code.NotFound;
    await assert.rejects(fs.getWatcherEvents({ watcherId }), gone);
    await assert.rejects(fs.createWatcher({ path: join(dir, 'missing') }), gone);
  });
});
