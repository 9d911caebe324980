import { resolveConnection } from './connection.js';
import { requestJson } from './http.js';
import type { ConnectionOptions } from './options.js';
import type { Health } from './types.js';

/** `GET /v1/health`: needs no key; rejects with code `unavailable` when nothing answers. */
export async function health(conn?: ConnectionOptions): Promise<Health> {
  return requestJson(await resolveConnection(conn), 'GET', '/v1/health');
}
