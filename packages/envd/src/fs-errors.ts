import { Code, ConnectError } from '@connectrpc/connect';
import { PathError } from './paths.js';

/** errno -> the Connect code E2B's envd answers with, so SDKs raise the same error classes. */
const CODES: Record<string, Code> = {
  ENOENT: Code.NotFound,
  EACCES: Code.PermissionDenied,
  EPERM: Code.PermissionDenied,
  EROFS: Code.PermissionDenied,
  EEXIST: Code.AlreadyExists,
  ENOTEMPTY: Code.AlreadyExists,
  ENOTDIR: Code.InvalidArgument,
  EISDIR: Code.InvalidArgument,
  EINVAL: Code.InvalidArgument,
  ENAMETOOLONG: Code.InvalidArgument,
  EXDEV: Code.InvalidArgument,
  ELOOP: Code.FailedPrecondition,
  ENOSPC: Code.ResourceExhausted,
  EDQUOT: Code.ResourceExhausted,
};

const WORDS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EEXIST: 'already exists',
  ENOTEMPTY: 'directory not empty',
  ENOTDIR: 'not a directory',
  EISDIR: 'is a directory',
  ELOOP: 'too many levels of symbolic links',
  ENOSPC: 'no space left on device',
};

/** Turns a failed filesystem call into a ConnectError with E2B's code and a readable message. */
export function fsError(err: unknown, what: string): ConnectError {
  if (err instanceof ConnectError) return err;
  if (err instanceof PathError) return new ConnectError(err.message, Code.InvalidArgument);
  const code = (err as NodeJS.ErrnoException).code ?? '';
  const words = WORDS[code] ?? (err as Error).message;
  return new ConnectError(`${what}: ${words}`, CODES[code] ?? Code.Internal);
}
