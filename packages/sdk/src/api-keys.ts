import { resolveConnection } from './connection.js';
import { request, requestJson, seg } from './http.js';
import type { ConnectionOptions } from './options.js';
import type { ApiKeyInfo, CreatedApiKey } from './types.js';

/** The calling key's team's API keys. */
export const ApiKeys = {
  /** The full key is in this answer only; the API stores a hash. */
  async create(name: string, conn?: ConnectionOptions): Promise<CreatedApiKey> {
    return requestJson(await resolveConnection(conn), 'POST', '/v1/api-keys', { json: { name } });
  },

  async list(conn?: ConnectionOptions): Promise<ApiKeyInfo[]> {
    const res = await requestJson<{ apiKeys: ApiKeyInfo[] }>(
      await resolveConnection(conn),
      'GET',
      '/v1/api-keys',
    );
    return res.apiKeys;
  },

  async delete(id: string, conn?: ConnectionOptions): Promise<void> {
    await request(await resolveConnection(conn), 'DELETE', `/v1/api-keys/${seg(id)}`);
  },
};
