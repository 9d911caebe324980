/**
 * How a command ended, in the words of envd's `ProcessEvent.EndEvent.status`: E2B's envd sends Go's
 * `ProcessState.String()` ("exit status 3", "signal: killed"), and the e2b SDK shows it to users as
 * `CommandExitError`'s message. The host reads the signal back out of it (`signalOfStatus`).
 */

/** Go's words for Linux's signals 1-31 (its syscall package's table), by number. */
const GO_SIGNAL_WORDS = [
  '',
  'hangup',
  'interrupt',
  'quit',
  'illegal instruction',
  'trace/breakpoint trap',
  'aborted',
  'bus error',
  'floating point exception',
  'killed',
  'user defined signal 1',
  'segmentation fault',
  'user defined signal 2',
  'broken pipe',
  'alarm clock',
  'terminated',
  'stack fault',
  'child exited',
  'continued',
  'stopped (signal)',
  'stopped',
  'stopped (tty input)',
  'stopped (tty output)',
  'urgent I/O condition',
  'CPU time limit exceeded',
  'file size limit exceeded',
  'virtual timer expired',
  'profiling timer expired',
  'window changed',
  'I/O possible',
  'power failure',
  'bad system call',
] as const;

/** Linux's names for the same numbers, so the host need not ask its own `os.constants` (they agree on x86 and arm). */
const SIGNAL_NAMES = [
  '',
  'SIGHUP',
  'SIGINT',
  'SIGQUIT',
  'SIGILL',
  'SIGTRAP',
  'SIGABRT',
  'SIGBUS',
  'SIGFPE',
  'SIGKILL',
  'SIGUSR1',
  'SIGSEGV',
  'SIGUSR2',
  'SIGPIPE',
  'SIGALRM',
  'SIGTERM',
  'SIGSTKFLT',
  'SIGCHLD',
  'SIGCONT',
  'SIGSTOP',
  'SIGTSTP',
  'SIGTTIN',
  'SIGTTOU',
  'SIGURG',
  'SIGXCPU',
  'SIGXFSZ',
  'SIGVTALRM',
  'SIGPROF',
  'SIGWINCH',
  'SIGIO',
  'SIGPWR',
  'SIGSYS',
] as const;

export interface ProcessExit {
  /** The exit code, or null if a signal ended it. */
  code: number | null;
  /** The number of the signal that ended it, or null. */
  signal: number | null;
  coreDumped?: boolean;
}

/** Go's `ProcessState.String()` for a process that ended so. */
export function processStatus(exit: ProcessExit): string {
  if (exit.signal === null) return `exit status ${exit.code ?? -1}`;
  const words = GO_SIGNAL_WORDS[exit.signal] || `signal ${exit.signal}`;
  return `signal: ${words}${exit.coreDumped ? ' (core dumped)' : ''}`;
}

/**
 * The name of the signal a status says ended the process ("SIGKILL"; "SIG34" for a real-time one, which
 * has no name), or null if it says none. Also reads the "signal: SIGKILL" that Amber's envd sent before it
 * spoke Go's words: a sandbox paused then still runs that envd when it is resumed.
 */
export function signalOfStatus(status: string): string | null {
  const said = /^signal: (.+?)(?: \(core dumped\))?$/.exec(status)?.[1];
  if (said === undefined) return null;
  if (/^SIG[A-Z0-9]+$/.test(said)) return said;
  const number = /^signal (\d+)$/.exec(said)?.[1];
  if (number !== undefined) return SIGNAL_NAMES[Number(number)] || `SIG${number}`;
  const known = GO_SIGNAL_WORDS.indexOf(said as (typeof GO_SIGNAL_WORDS)[number]);
  return known > 0 ? (SIGNAL_NAMES[known] ?? null) : null;
}
