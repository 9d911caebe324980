import { resolveConnection } from './connection.js';
import { request, requestJson, seg } from './http.js';
import type { ConnectionOptions } from './options.js';
import type { Sandbox } from './sandbox.js';
import type { SnapshotInfo } from './types.js';

/** Named, immutable snapshots (templates): `Sandbox.create({ template: name })` spawns from one. */
export const Snapshot = {
  /** Freezes a running or paused sandbox under `name`. */
  async create(
    sandbox: Sandbox | string,
    name: string,
    opts: { overwrite?: boolean } = {},
    conn?: ConnectionOptions,
  ): Promise<SnapshotInfo> {
    const sandboxId = typeof sandbox === 'string' ? sandbox : sandbox.id;
    return requestJson(await resolveConnection(conn), 'POST', '/v1/snapshots', {
      json: { sandboxId, name, ...opts },
    });
  },

  async list(conn?: ConnectionOptions): Promise<SnapshotInfo[]> {
    const res = await requestJson<{ snapshots: SnapshotInfo[] }>(
      await resolveConnection(conn),
      'GET',
      '/v1/snapshots',
    );
    return res.snapshots;
  },

  async get(name: string, conn?: ConnectionOptions): Promise<SnapshotInfo> {
    return requestJson(await resolveConnection(conn), 'GET', `/v1/snapshots/${seg(name)}`);
  },

  async delete(name: string, conn?: ConnectionOptions): Promise<void> {
    await request(await resolveConnection(conn), 'DELETE', `/v1/snapshots/${seg(name)}`);
  },
};
