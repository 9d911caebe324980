// What the native fault loop reports, turned into log lines and (for trouble) PagerErrors.
import type { FaultServerEvent } from '@amber/native';
import type { Logger } from 'pino';
import { PagerError } from './errors.js';

/** Logs `e`; returns a PagerError for the caller's onError when it is trouble worth surfacing. */
export function describeServerEvent(e: FaultServerEvent, log: Logger): PagerError | undefined {
  switch (e.type) {
    case 'storage-error': {
      const err = new PagerError(
        'storage_read_failed',
        `reading guest offset ${e.guestOffset} from the snapshot failed (${e.code}: ${e.message}); retrying (attempt ${e.attempts})`,
      );
      log.warn({ code: e.code, guestOffset: e.guestOffset, attempts: e.attempts }, err.message);
      return err;
    }
    case 'storage-recovered':
      log.info({ guestOffset: e.guestOffset, attempts: e.attempts }, 'snapshot read recovered');
      return undefined;
    case 'uffd-error':
    case 'stray-fault': {
      const err = new PagerError('uffd_error', `${e.type}: ${e.message ?? ''} (${e.code ?? ''})`);
      log.error({ event: e }, err.message);
      return err;
    }
    case 'prefetch-done':
      log.info({ message: e.message }, 'prefetch finished');
      return undefined;
    default:
      log.debug({ event: e }, 'fault server event');
      return undefined;
  }
}
