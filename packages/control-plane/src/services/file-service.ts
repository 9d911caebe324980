import type { Readable } from 'node:stream';
import { type EntryInfo, FileType } from '@amber/proto/filesystem';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { ApiError } from '../errors.js';
import { envdClients } from '../tunnel/envd-clients.js';
import { agentCall } from './agent-errors.js';
import type { AgentLink } from './agent-link.js';
import type { SandboxService } from './sandbox-service.js';

export interface FileEntryView {
  name: string;
  path: string;
  type: 'file' | 'dir' | 'symlink' | 'other';
  size: number;
  mode: number;
  permissions: string;
  owner: string;
  group: string;
  modifiedAt: string | null;
  symlinkTarget: string | null;
}

function entryView(entry: EntryInfo | undefined): FileEntryView {
  if (!entry) throw new ApiError('internal', 'envd returned no entry');
  const types: Record<number, FileEntryView['type']> = {
    [FileType.FILE]: 'file',
    [FileType.DIRECTORY]: 'dir',
    [FileType.SYMLINK]: 'symlink',
  };
  return {
    name: entry.name,
    path: entry.path,
    type: types[entry.type] ?? 'other',
    size: Number(entry.size),
    mode: entry.mode,
    permissions: entry.permissions,
    owner: entry.owner,
    group: entry.group,
    modifiedAt: entry.modifiedTime ? timestampDate(entry.modifiedTime).toISOString() : null,
    symlinkTarget: entry.symlinkTarget ?? null,
  };
}

/** Chunks of at most this size go to the agent: a 256 KiB chunk is a cheap message and little memory. */
const WRITE_CHUNK = 256 * 1024;

/**
 * Files of a running sandbox: bytes through the agent's streaming ReadFile/WriteFile (never whole in
 * memory), the rest through envd's Filesystem service over the agent's guest tunnel.
 */
export class FileService {
  constructor(
    private readonly sandboxes: SandboxService,
    private readonly agent: AgentLink,
  ) {}

  async write(
    teamId: string,
    sandboxId: string,
    path: string,
    body: Readable,
  ): Promise<{ path: string; size: number }> {
    return this.sandboxes.use(teamId, sandboxId, async () => {
      const { bytesWritten } = await agentCall(() =>
        this.agent.client.writeFile(
          (async function* () {
            yield { part: { case: 'header' as const, value: { sandboxId, path } } };
            for await (const chunk of body as AsyncIterable<Buffer>) {
              for (let at = 0; at < chunk.byteLength; at += WRITE_CHUNK) {
                yield { part: { case: 'data' as const, value: chunk.subarray(at, at + WRITE_CHUNK) } };
              }
            }
          })(),
        ),
      );
      return { path, size: Number(bytesWritten) };
    });
  }

  /**
   * The first chunk is read before answering, so a missing file is a 404 and not a cut stream; the rest
   * flows as the client reads it (the async iterator pulls from the agent on demand).
   */
  async read(teamId: string, sandboxId: string, path: string): Promise<AsyncIterable<Buffer>> {
    return this.sandboxes.use(teamId, sandboxId, async () => {
      const stream = this.agent.client.readFile({ sandboxId, path })[Symbol.asyncIterator]();
      const first = await agentCall(() => stream.next());
      return (async function* () {
        if (first.done) return;
        yield Buffer.from(first.value.data);
        try {
          for (let next = await stream.next(); !next.done; next = await stream.next())
            yield Buffer.from(next.value.data);
        } finally {
          await stream.return?.();
        }
      })();
    });
  }

  private fs(sandboxId: string, user?: string) {
    return envdClients(this.agent.tunnelPath, sandboxId, user).filesystem;
  }

  async list(teamId: string, sandboxId: string, path: string, depth: number): Promise<FileEntryView[]> {
    return this.sandboxes.use(teamId, sandboxId, async () => {
      const res = await agentCall(() => this.fs(sandboxId).listDir({ path, depth }));
      return res.entries.map(entryView);
    });
  }

  async mkdir(teamId: string, sandboxId: string, path: string): Promise<FileEntryView> {
    return this.sandboxes.use(teamId, sandboxId, async () => {
      const res = await agentCall(() => this.fs(sandboxId).makeDir({ path }));
      return entryView(res.entry);
    });
  }

  async move(teamId: string, sandboxId: string, from: string, to: string): Promise<FileEntryView> {
    return this.sandboxes.use(teamId, sandboxId, async () => {
      const res = await agentCall(() => this.fs(sandboxId).move({ source: from, destination: to }));
      return entryView(res.entry);
    });
  }

  async remove(teamId: string, sandboxId: string, path: string): Promise<void> {
    await this.sandboxes.use(teamId, sandboxId, async () => {
      await agentCall(() => this.fs(sandboxId).remove({ path }));
    });
  }
}
