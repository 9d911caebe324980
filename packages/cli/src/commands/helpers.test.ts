import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseLocation } from './cp.js';
import { commandArgs } from './exec.js';
import { exitCodeOf, exitCodeOfError } from './exit-code.js';
import { collectPair, formatBytes, formatTable, relativeTime } from './output.js';

describe('cp locations', () => {
  it('reads <id>:<path> as a sandbox file and everything else as local', () => {
    assert.deepEqual(parseLocation('sb_12ab:/etc/hosts'), { sandbox: 'sb_12ab', path: '/etc/hosts' });
    assert.deepEqual(parseLocation('abc:rel/file'), { sandbox: 'abc', path: 'rel/file' });
    assert.deepEqual(parseLocation('./x:y'), { local: './x:y' });
    assert.deepEqual(parseLocation('/tmp/a:b'), { local: '/tmp/a:b' });
    assert.deepEqual(parseLocation('file.txt'), { local: 'file.txt' });
    assert.deepEqual(parseLocation('-'), { local: '-' });
    assert.throws(() => parseLocation('sb_1:'), /no path/);
  });
});

describe('exec arguments', () => {
  it('drops the -- separator and refuses an empty command', () => {
    assert.deepEqual(commandArgs(['--', 'ls', '-la']), ['ls', '-la']);
    assert.deepEqual(commandArgs(['uname', '-a']), ['uname', '-a']);
    assert.throws(() => commandArgs(['--']), /no command/);
  });

  it('turns a signal into 128 + its number, like a shell', () => {
    assert.equal(exitCodeOf({ exitCode: 3, signal: null }), 3);
    assert.equal(exitCodeOf({ exitCode: -1, signal: 'SIGKILL' }), 137);
    assert.equal(exitCodeOf({ exitCode: -1, signal: 'SIGTERM' }), 143);
    assert.equal(exitCodeOf({ exitCode: -1, signal: 'signal: SIGKILL' }), 137);
    assert.equal(exitCodeOf({ exitCode: -1, signal: 'SIG36' }), 164);
  });

  it('exits 127 or 126 for a command that could not run, as a shell does, and 1 for other failures', () => {
    assert.equal(exitCodeOfError({ code: 'invalid_state', reason: 'command_not_found' }), 127);
    assert.equal(exitCodeOfError({ code: 'invalid_state', reason: 'command_not_executable' }), 126);
    assert.equal(exitCodeOfError({ code: 'invalid_state' }), 1);
    assert.equal(exitCodeOfError(new Error('x')), 1);
  });
});

describe('output', () => {
  it('aligns table columns under an upper-case header', () => {
    assert.equal(
      formatTable(
        ['id', 'state', 'x'],
        [
          ['a', 'running', '1'],
          ['bbbb', 'paused', ''],
        ],
      ),
      'ID    STATE    X\na     running  1\nbbbb  paused\n',
    );
  });

  it('says times relative to now', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    assert.equal(relativeTime('2026-01-01T00:04:30Z', now), 'in 4m 30s');
    assert.equal(relativeTime('2025-12-31T22:00:00Z', now), '2h ago');
    assert.equal(relativeTime(null, now), '-');
  });

  it('says sizes in binary units, a dash when unknown', () => {
    assert.equal(formatBytes(512), '512 B');
    assert.equal(formatBytes(5.25 * 1024 * 1024), '5.3 MiB');
    assert.equal(formatBytes(300 * 1024 * 1024), '300 MiB');
    assert.equal(formatBytes(null), '-');
  });

  it('collects repeated key=value flags', () => {
    assert.deepEqual(collectPair('b=2=3', collectPair('a=1')), { a: '1', b: '2=3' });
    assert.throws(() => collectPair('novalue'), /key=value/);
  });
});
