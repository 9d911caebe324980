import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../errors.js';

interface ValidationIssue {
  instancePath?: string;
  message?: string;
  params?: Record<string, unknown>;
}

/** Names the field and what is wrong with it, e.g. `body.timeoutSec must be >= 1`, `body: unknown field "x"`. */
function validationMessage(context: string | undefined, issues: ValidationIssue[]): string {
  const issue = issues[0];
  if (!issue) return 'invalid request';
  const where = `${context ?? 'request'}${(issue.instancePath ?? '').replaceAll('/', '.')}`;
  const extra = issue.params?.additionalProperty;
  if (typeof extra === 'string') return `${where}: unknown field "${extra}"`;
  return `${where} ${issue.message ?? 'is invalid'}`;
}

/** Any failure as the API's error, so every response has the same shape. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  const e = err as FastifyError & { validation?: ValidationIssue[]; validationContext?: string };
  if (e.validation)
    return new ApiError('invalid_argument', validationMessage(e.validationContext, e.validation));
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError(
        'payload_too_large',
        'the request body is larger than this route accepts (1 MiB for JSON)',
      );
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError(
        'unsupported_media_type',
        `unsupported content type; this route takes application/json`,
      );
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ApiError('invalid_argument', 'the body is empty but the content type is application/json');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new ApiError('invalid_argument', `malformed JSON: ${e.message}`);
  }
  if (err instanceof SyntaxError || e.statusCode === 400) {
    return new ApiError('invalid_argument', `malformed request: ${e.message}`);
  }
  if (e.statusCode === 413) return new ApiError('payload_too_large', e.message);
  if (e.statusCode === 415) return new ApiError('unsupported_media_type', e.message);
  if (e.statusCode === 404) return new ApiError('not_found', e.message);
  if (e.statusCode !== undefined && e.statusCode >= 400 && e.statusCode < 500) {
    return new ApiError('invalid_argument', e.message);
  }
  return new ApiError('internal', e?.message ?? String(err), { cause: err });
}

export function errorHandler(err: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const apiError = toApiError(err);
  if (apiError.status >= 500) request.log.error({ err, code: apiError.code }, apiError.message);
  else request.log.info({ code: apiError.code, status: apiError.status }, apiError.message);
  if (reply.sent || reply.raw.headersSent) {
    // A streamed response failed part-way: the client sees a cut connection, never a wrong body.
    reply.raw.destroy(apiError);
    return;
  }
  void reply.status(apiError.status).type('application/json').send(apiError.toJSON());
}
