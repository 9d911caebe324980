// Preloaded into every test process by run-tests.mjs (`--import`). Node 20's `--test-timeout` bounds a
// whole file, not a test, and a test that hangs never reaches the summary; so every test and hook created
// through node:test's named exports gets a timeout of its own (AMBER_TEST_TIMEOUT_MS, default 20 min:
// the 12 pause/resume cycles took ~10 min on this shared 2-core machine)
// unless it sets one, and node:test fails it by name when it expires. A file whose tests are all done but
// whose process stays up (a handle a timed-out test left open) is ended AMBER_TEST_EXIT_GRACE_MS later.
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { runInThisContext } from 'node:vm';

const require = createRequire(import.meta.url);
const nodeTest = require('node:test');

function positiveMs(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0)
    throw new Error(`${name} must be a positive integer, got "${raw}"`);
  return value;
}

const timeoutMs = positiveMs('AMBER_TEST_TIMEOUT_MS', 20 * 60_000);
const exitGraceMs = positiveMs('AMBER_TEST_EXIT_GRACE_MS', 60_000);

/** The caller's position (file, line, column) in the test file, from a stack trace. */
function callerPosition() {
  const lines = new Error().stack?.split('\n') ?? [];
  // 0: "Error", 1: callerPosition, 2: the wrapper, 3: the test file's call.
  const match = /\(?((?:file:\/\/)?\/[^():]+):(\d+):(\d+)\)?$/.exec(lines[3] ?? '');
  if (!match) return undefined;
  return { file: match[1], line: Number(match[2]), column: Number(match[3]) };
}

/**
 * node:test records where a test was declared as the position of the call to `test()`; a wrapper would be
 * recorded instead of the test file. So the call is made from a tiny script compiled with the test file's
 * name whose call sits at the test file's line and column.
 */
const callers = new Map();
function callAt(position, fn, thisArg, args) {
  if (!position) return fn.apply(thisArg, args);
  const key = `${position.file}:${position.line}:${position.column}`;
  let call = callers.get(key);
  if (!call) {
    const source = `(g, a) =>\n${' '.repeat(position.column - 1)}g(...a)`;
    call = runInThisContext(source, { filename: position.file, lineOffset: position.line - 2 });
    callers.set(key, call);
  }
  return call(fn.bind(thisArg), args);
}

/** test(name?, options?, fn?) with `timeout` added to the options unless given. */
function withTimeout(fn) {
  const wrapped = function (...args) {
    const at = typeof args[0] === 'string' ? 1 : 0;
    const options = args[at];
    if (options !== null && typeof options === 'object') {
      if (options.timeout === undefined) args[at] = { ...options, timeout: timeoutMs };
    } else args.splice(at, 0, { timeout: timeoutMs });
    return callAt(callerPosition(), fn, this, args);
  };
  return Object.assign(wrapped, fn);
}

/** before(fn, options?) and the others: the same for hooks, whose options come second. */
function hookWithTimeout(fn) {
  return function (hookFn, options) {
    const withDefault = options?.timeout === undefined ? { ...options, timeout: timeoutMs } : options;
    return callAt(callerPosition(), fn, this, [hookFn, withDefault]);
  };
}

for (const name of ['test', 'it']) {
  const original = nodeTest[name];
  nodeTest[name] = withTimeout(original);
  nodeTest[name].only = withTimeout(original.only);
}
for (const name of ['before', 'after', 'beforeEach', 'afterEach'])
  nodeTest[name] = hookWithTimeout(nodeTest[name]);
// A describe gets no timeout (it would bound all of its tests together), only its true position.
for (const name of ['describe', 'suite']) {
  const original = nodeTest[name];
  nodeTest[name] = Object.assign(function (...args) {
    return callAt(callerPosition(), original, this, args);
  }, original);
}
syncBuiltinESMExports();

// Runs once every test and hook of the file is done: a process still up long after that is held by a
// leaked handle and would never let the run reach its summary.
nodeTest.after(() => {
  setTimeout(() => {
    process.stderr.write(
      `\n[run-tests] ${process.argv[1]}: every test finished ${exitGraceMs} ms ago but the process is still ` +
        'running (an open handle, often left by a test that timed out); ending it\n',
    );
    process.exit(1);
  }, exitGraceMs).unref();
});
