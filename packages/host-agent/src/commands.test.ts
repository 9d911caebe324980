import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runScript, withInput } from './commands.js';
import { AgentError } from './errors.js';

test("a script stops at its first failing line and reports that line's stderr", async () => {
  const err = await runScript('three steps', [
    withInput('cat >/dev/null', 'a $HOME `x` line that must not expand'),
    'echo "step two broke" >&2; exit 3',
    'echo never >&2',
  ]).catch((e: unknown) => e);
  assert.ok(err instanceof AgentError);
  assert.equal(err.code, 'internal');
  assert.match(err.message, /^three steps failed: step two broke$/);
});

test('input is passed verbatim, and may not end the here-document early', async () => {
  await runScript('verbatim', [withInput('{ read -r line && test "$line" = \'$HOME `x`\'; }', '$HOME `x`')]);
  // Nothing else reads the agent's end: a line that reads stdin gets end-of-file, it does not hang.
  await runScript('no input', ['test -z "$(cat)"']);
  assert.throws(() => withInput('cat', 'one\nAMBER_INPUT_END\ntwo'), /may not contain/);
});
