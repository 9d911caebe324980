import { toBody, type WriteData } from './body.js';
import type { Connection } from './connection.js';
import { request, requestJson, seg } from './http.js';
import type { FileEntry } from './types.js';

/** A sandbox's filesystem. Paths are absolute or relative to the guest user's home. */
export class SandboxFiles {
  constructor(
    private readonly conn: Connection,
    private readonly sandboxId: string,
  ) {}

  private path(suffix = ''): string {
    return `/v1/sandboxes/${seg(this.sandboxId)}/files${suffix}`;
  }

  /** The file's bytes as a stream, read as they arrive. */
  async read(path: string, opts: { signal?: AbortSignal } = {}): Promise<ReadableStream<Uint8Array>> {
    const res = await request(this.conn, 'GET', this.path(), { query: { path }, ...opts });
    return res.body ?? new ReadableStream({ start: (c) => c.close() });
  }

  /** A small text file, whole. */
  async readText(path: string): Promise<string> {
    return (await request(this.conn, 'GET', this.path(), { query: { path } })).text();
  }

  /** Creates or replaces the file; a stream or async iterable is sent as it is read. */
  async write(path: string, data: WriteData): Promise<{ path: string; size: number }> {
    return requestJson(this.conn, 'PUT', this.path(), { query: { path }, body: toBody(data) });
  }

  async list(path: string, opts: { depth?: number } = {}): Promise<FileEntry[]> {
    const res = await requestJson<{ entries: FileEntry[] }>(this.conn, 'GET', this.path('/list'), {
      query: { path, depth: opts.depth },
    });
    return res.entries;
  }

  async mkdir(path: string): Promise<FileEntry> {
    return (
      await requestJson<{ entry: FileEntry }>(this.conn, 'POST', this.path('/mkdir'), { json: { path } })
    ).entry;
  }

  async move(from: string, to: string): Promise<FileEntry> {
    return (
      await requestJson<{ entry: FileEntry }>(this.conn, 'POST', this.path('/move'), { json: { from, to } })
    ).entry;
  }

  async remove(path: string): Promise<void> {
    await request(this.conn, 'DELETE', this.path(), { query: { path } });
  }
}
