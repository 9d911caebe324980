import { AgentError } from './errors.js';

/** The error of a failed pause; a full disk says so, with where, rather than as a raw errno. */
export function pauseFailed(err: unknown, dir: string): AgentError {
  const message = (err as Error).message;
  if (isNoSpace(err)) {
    return new AgentError(
      'resource_exhausted',
      `pause failed, the sandbox keeps running and its last snapshot is intact: no space left on the device of ${dir} (${message})`,
      { cause: err },
    );
  }
  return new AgentError('internal', `pause failed, the sandbox keeps running: ${message}`, { cause: err });
}

/** ENOSPC anywhere in the cause chain, or in the text of an error relayed by QEMU or qemu-img. */
function isNoSpace(err: unknown): boolean {
  for (let e = err as { code?: unknown; message?: unknown; cause?: unknown } | undefined; e; ) {
    if (e.code === 'ENOSPC' || (typeof e.message === 'string' && /No space left on device/i.test(e.message)))
      return true;
    e = e.cause as typeof e;
  }
  return false;
}
