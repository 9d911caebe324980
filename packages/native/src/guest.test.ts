// The guest addon on the host: a real pseudo-terminal, real xattrs and real inotify events.
import assert from 'node:assert/strict';
import {
  closeSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Inotify, loadGuestBinding } from './guest.js';
import { guestAddonPath } from './shim.js';

const guest = loadGuestBinding(guestAddonPath);

test('openPty: what the slave writes the master reads, with the window size it was given', () => {
  const { master, slave, name } = guest.openPty(100, 30);
  try {
    assert.match(name, /^\/dev\/pts\/\d+$/);
    assert.deepEqual(guest.getWinsize(slave), { cols: 100, rows: 30 });
    guest.setWinsize(master, 120, 40);
    assert.deepEqual(guest.getWinsize(slave), { cols: 120, rows: 40 });
    writeSync(slave, 'hello');
    const buf = Buffer.alloc(64);
    const n = readSync(master, buf);
    assert.equal(buf.subarray(0, n).toString(), 'hello');
    assert.throws(() => guest.openPty(0, 10), /between 1 and 65535/);
    assert.throws(() => guest.setWinsize(9999, 10, 10), { code: 'EBADF' });
  } finally {
    closeSync(master);
    closeSync(slave);
  }
});

test('xattrs: set, listed by prefix with the prefix stripped, removed', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'guest-xattr-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'f');
  writeFileSync(file, 'x');
  try {
    guest.setXattr(file, 'user.e2b.team', 'blue');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOTSUP') return t.skip('no user xattrs here');
    throw err;
  }
  guest.setXattr(file, 'user.other', 'ignored');
  assert.deepEqual(guest.listXattrs(file, 'user.e2b.'), { team: 'blue' });
  guest.removeXattr(file, 'user.e2b.team');
  assert.deepEqual(guest.listXattrs(file, 'user.e2b.'), {});
  assert.throws(() => guest.listXattrs(join(dir, 'missing'), 'user.'), { code: 'ENOENT' });
});

test('statEntries: lstat fields, symlink targets and prefixed xattrs of many entries in one call', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'guest-stat-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'file'), 'hello');
  mkdirSync(join(dir, 'sub'));
  symlinkSync('file', join(dir, 'link'));
  let xattrs = true;
  try {
    guest.setXattr(join(dir, 'file'), 'user.e2b.team', 'blue');
    guest.setXattr(join(dir, 'file'), 'user.other', 'ignored');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOTSUP') throw err;
    xattrs = false;
  }
  const names = ['file', 'sub', 'link', 'gone'];
  const { stats, targets, metadata } = guest.statEntries(dir, names, 'user.e2b.');
  assert.equal(stats.length, names.length * 5);
  names.slice(0, 3).forEach((name, i) => {
    const st = lstatSync(join(dir, name));
    assert.deepEqual([...stats.subarray(i * 5, i * 5 + 5)], [st.mode, st.uid, st.gid, st.size, st.mtimeMs]);
  });
  assert.equal(stats[15], -1);
  assert.deepEqual({ ...targets }, { 2: 'file' });
  assert.deepEqual({ ...metadata }, xattrs ? { 0: { team: 'blue' } } : {});
  assert.throws(() => guest.statEntries(dir, [1] as unknown as string[], ''), /array of strings/);
});

test('inotify: create, write and delete arrive in order; a cancel ends a pending read', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'guest-inotify-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const fd = guest.inotifyInit();
  const cancel = guest.cancelCreate();
  try {
    const wd = guest.inotifyAddWatch(fd, dir, Inotify.CREATE | Inotify.MODIFY | Inotify.DELETE);
    writeFileSync(join(dir, 'a'), 'x');
    rmSync(join(dir, 'a'));
    const events: Array<[number, string]> = [];
    while (events.length < 3)
      for (const e of await guest.inotifyRead(fd, cancel)) events.push([e.mask & ~Inotify.ISDIR, e.name]);
    assert.deepEqual(events, [
      [Inotify.CREATE, 'a'],
      [Inotify.MODIFY, 'a'],
      [Inotify.DELETE, 'a'],
    ]);
    const pending = guest.inotifyRead(fd, cancel);
    guest.cancelSignal(cancel);
    assert.deepEqual(await pending, []);
    guest.inotifyRmWatch(fd, wd);
    assert.throws(() => guest.inotifyAddWatch(fd, join(dir, 'missing'), Inotify.CREATE), { code: 'ENOENT' });
  } finally {
    closeSync(fd);
    closeSync(cancel);
  }
});

// Only what is refused: a valid call would move this host's clock (the VM tests set the guest's).
test('setRealtimeClock refuses what is not a time in microseconds, before any call', () => {
  for (const bad of [-1, Number.NaN, 2 ** 60, '1700000000000000', undefined]) {
    assert.throws(() => guest.setRealtimeClock(bad as number), TypeError, String(bad));
  }
});
