import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { commandEnd } from './process-end.js';

describe('commandEnd', () => {
  it('reads an exit, a signal by name and a start that failed, with why', () => {
    assert.deepEqual(commandEnd({ exitCode: 3, exited: true, status: 'exit status 3' }), {
      exitCode: 3,
      signal: null,
    });
    assert.deepEqual(commandEnd({ exitCode: -1, exited: false, status: 'signal: killed' }), {
      exitCode: -1,
      signal: 'SIGKILL',
    });
    const missing = { exitCode: -1, exited: false, status: '', error: 'spawn nope ENOENT' };
    assert.deepEqual(commandEnd(missing), { notStarted: 'spawn nope ENOENT', reason: 'command_not_found' });
    const denied = { ...missing, error: 'spawn /etc/passwd EACCES' };
    assert.deepEqual(commandEnd(denied), {
      notStarted: 'spawn /etc/passwd EACCES',
      reason: 'command_not_executable',
    });
    const other = { ...missing, error: 'spawn sh EMFILE' };
    assert.deepEqual(commandEnd(other), { notStarted: 'spawn sh EMFILE' });
  });
});
