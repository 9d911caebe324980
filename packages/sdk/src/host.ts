import { resolveConnection } from './connection.js';
import { requestJson } from './http.js';
import type { ConnectionOptions } from './options.js';
import type { HostStats } from './types.js';

/** The host behind the API. */
export const Host = {
  /** Memory budget, the team's sandboxes by state, snapshot disk use and the last `transitions` pause/resume times. */
  async stats(opts: { transitions?: number } = {}, conn?: ConnectionOptions): Promise<HostStats> {
    return requestJson(await resolveConnection(conn), 'GET', '/v1/host', {
      query: { transitions: opts.transitions },
    });
  },
};
