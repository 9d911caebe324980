// Preloaded into every test process by run-tests.mjs (`--import`). A network namespace that appeared while
// one test file ran and is still there when its process exits is written to AMBER_LEFTOVER_LOG with the
// file's name: agents sweep their own prefix at start, so a namespace left for good is otherwise found
// only after the run, with nothing to tell which test made it. run-tests.mjs prints the log at the end.
import { execFileSync } from 'node:child_process';
import { appendFileSync, statSync } from 'node:fs';

const log = process.env.AMBER_LEFTOVER_LOG;

/** Every network namespace on the host, by name. */
export function namespaces() {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((line) => line.split(' ')[0])
    .filter(Boolean);
}

/** `name (made HH:MM:SS)`: when it was made tells which test step made it. */
export function withMadeTime(name) {
  try {
    return `${name} (made ${statSync(`/run/netns/${name}`).mtime.toISOString().slice(11, 19)})`;
  } catch {
    return name;
  }
}

if (log) {
  const before = new Set(namespaces());
  process.on('exit', () => {
    const left = namespaces().filter((name) => !before.has(name));
    const file = process.argv.find((arg) => arg.endsWith('.test.ts')) ?? process.argv.slice(1).join(' ');
    if (left.length > 0) appendFileSync(log, `${file} left ${left.map(withMadeTime).join(', ')}\n`);
  });
}
