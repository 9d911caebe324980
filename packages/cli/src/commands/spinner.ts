// A spinner on stderr for calls slower than a second, only when a person is watching (stdout and stderr
// are terminals), so scripts and pipes never see it.

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const DELAY_MS = 1000;

export async function withSpinner<T>(label: string, work: () => Promise<T>): Promise<T> {
  if (!process.stdout.isTTY || !process.stderr.isTTY) return work();
  let frame = 0;
  let drawn = false;
  let timer: NodeJS.Timeout | undefined;
  const started = Date.now();
  const delay = setTimeout(() => {
    timer = setInterval(() => {
      drawn = true;
      const seconds = ((Date.now() - started) / 1000).toFixed(0);
      process.stderr.write(`\r${FRAMES[frame++ % FRAMES.length]} ${label} ${seconds}s\x1b[K`);
    }, 80);
  }, DELAY_MS);
  try {
    return await work();
  } finally {
    clearTimeout(delay);
    if (timer) clearInterval(timer);
    if (drawn) process.stderr.write('\r\x1b[K');
  }
}
