import assert from 'node:assert/strict';
import { constants } from 'node:os';
import { describe, test } from 'node:test';
import { processStatus, signalOfStatus } from './process-status.js';

describe('process status', () => {
  test("says how a process ended in Go's words, as E2B's envd does", () => {
    assert.equal(processStatus({ code: 0, signal: null }), 'exit status 0');
    assert.equal(processStatus({ code: 3, signal: null }), 'exit status 3');
    assert.equal(processStatus({ code: null, signal: 9 }), 'signal: killed');
    assert.equal(processStatus({ code: null, signal: 15 }), 'signal: terminated');
    assert.equal(
      processStatus({ code: null, signal: 11, coreDumped: true }),
      'signal: segmentation fault (core dumped)',
    );
    assert.equal(processStatus({ code: null, signal: 34 }), 'signal: signal 34');
  });

  test('reads the signal back as its name, for every signal this host names', () => {
    for (const [name, number] of Object.entries(constants.signals)) {
      // Aliases (SIGIOT is SIGABRT, SIGPOLL is SIGIO) and glibc's SIGUNUSED come back as the main name.
      if (number > 31 || ['SIGIOT', 'SIGPOLL', 'SIGUNUSED'].includes(name)) continue;
      assert.equal(signalOfStatus(processStatus({ code: null, signal: number })), name, name);
      assert.equal(signalOfStatus(processStatus({ code: null, signal: number, coreDumped: true })), name);
    }
    assert.equal(signalOfStatus('signal: signal 34'), 'SIG34');
  });

  test("reads the older envd's names, and no signal from an exit or a start failure", () => {
    assert.equal(signalOfStatus('signal: SIGKILL'), 'SIGKILL');
    assert.equal(signalOfStatus('exit status 1'), null);
    assert.equal(signalOfStatus('error'), null);
    assert.equal(signalOfStatus('signal: no such words'), null);
  });
});
