import { writeFileAtomic } from './atomic-file.js';
import type { SandboxRecord } from './sandbox.js';

/**
 * Writes sandbox records durably. A sandbox's writes happen one after another, in call order: each write's
 * temp file has the same name, and the last call's record is the one left on disk.
 */
export class RecordWriter {
  readonly #pending = new Map<string, Promise<void>>();

  /** Writes `record` to `path` after the sandbox's earlier writes; their errors are their callers'. */
  write(path: string, record: SandboxRecord): Promise<void> {
    const text = `${JSON.stringify(record, null, 2)}\n`;
    const write = (this.#pending.get(record.id) ?? Promise.resolve())
      .catch(() => undefined)
      .then(() => writeFileAtomic(path, text));
    this.#pending.set(record.id, write);
    const done = () => {
      if (this.#pending.get(record.id) === write) this.#pending.delete(record.id);
    };
    write.then(done, done);
    return write;
  }

  /** Resolves once the sandbox's pending writes are done (before its directory goes). */
  async settled(id: string): Promise<void> {
    await this.#pending.get(id)?.catch(() => undefined);
  }
}
