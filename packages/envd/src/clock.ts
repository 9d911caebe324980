import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

const PERL = '/usr/bin/perl';
// Reads "<host time µs> <CLOCK_MONOTONIC µs when that was true>", adds the time that passed since by the
// monotonic clock (clock_gettime = syscall 228), then settimeofday (164): x86_64 numbers, the only guest
// architecture; perl-base is in every Debian. Adding the delta in perl keeps its own start-up latency out.
const SETTER = [
  '$|=1;',
  'while (<STDIN>) {',
  '  my ($t, $m) = split;',
  '  my $ts = pack("qq", 0, 0); syscall(228, 1, $ts); my ($s, $n) = unpack("qq", $ts);',
  '  my $u = $t + ($s * 1000000 + int($n / 1000) - $m);',
  '  my $tv = pack("qq", int($u / 1000000), $u % 1000000);',
  '  print syscall(164, $tv, 0) == 0 ? "ok\n" : "err $!\n";',
  '}',
].join(' ');

/**
 * Sets the guest's wall clock to the host's time: after a restore it is stale by the length of the pause.
 * Node has no settimeofday, so a perl process started once (before any snapshot) makes the call; a fresh
 * process per restore would cost hundreds of ms under emulation, during which new processes must wait.
 */
export class ClockSetter {
  #child: ChildProcessWithoutNullStreams | undefined;
  #replies: Array<(line: string) => void> = [];

  constructor(private readonly perl = PERL) {}

  /** Starts the setter now, so it is already running in every snapshot taken later. */
  start(): void {
    if (this.#child) return;
    const child = spawn(this.perl, ['-e', SETTER], { stdio: 'pipe' });
    createInterface({ input: child.stdout }).on('line', (line) => this.#replies.shift()?.(line));
    // Gone (or never started): fail whoever waits, and let the next set() start a new one.
    const lost = (why: string) => {
      if (this.#child !== child) return;
      this.#child = undefined;
      for (const reply of this.#replies.splice(0)) reply(`err ${why}`);
    };
    child.once('exit', (code) => lost(`the clock setter exited (${code})`));
    child.once('error', (err) => lost(`cannot run ${this.perl}: ${err.message}`));
    child.stdin.on('error', (err) => lost(`the clock setter's input broke: ${err.message}`));
    this.#child = child;
  }

  async set(hostTimeMs: number, receivedAt = performance.now()): Promise<void> {
    this.start();
    const child = this.#child as ChildProcessWithoutNullStreams;
    const reply = new Promise<string>((resolve) => this.#replies.push(resolve));
    const monotonicUs = process.hrtime.bigint() / 1000n;
    const hostUs = Math.round((hostTimeMs + (performance.now() - receivedAt)) * 1000);
    child.stdin.write(`${hostUs} ${monotonicUs}\n`);
    const line = await reply;
    if (line !== 'ok') throw new Error(`settimeofday failed: ${line}`);
  }

  close(): void {
    this.#child?.kill();
  }
}
