// Named, immutable snapshots ("templates") under $AMBER_HOME/templates/<name>/: a snapshot directory
// (layout.ts) plus template.json. A template is built under a temp name and renamed into place, so it
// exists whole or not at all.
//
// Deleting a template that sandboxes were spawned from is allowed: each spawned sandbox holds hard links
// to the files it needs, so they live on until the last user is gone (the link count is the reference
// count), while the name is freed at once.
import { lstat, mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ZERO_BUILD_ID } from '@amber/memsnap';
import { writeFileAtomic } from './atomic-file.js';
import { AgentError, notFound } from './errors.js';
import { newSandboxId } from './ids.js';
import { cloneCommitted } from './snapshot/clone.js';
import { fsyncDir } from './snapshot/fsync.js';
import { type CommittedSnapshot, removeWorkingSetLeftovers, requireCommitted } from './snapshot/layout.js';

export interface TemplateRecord {
  name: string;
  vcpus: number;
  memoryMib: number;
  imageId: string;
  sourceSandboxId: string;
  createdAtMs: number;
  /** Bytes of memory data the template holds (its generation files). */
  memoryBytes: number;
  /**
   * Bytes its disk layers take on the host (allocated blocks of the qcow2 files in its directory; the base
   * image they stand on is the image's, not the template's). Absent in records written before it existed:
   * `get` and `list` then measure it.
   */
  diskBytes: number;
}

const NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const RECORD = 'template.json';

export function validateTemplateName(name: string): string {
  if (!NAME.test(name)) {
    throw new AgentError(
      'invalid_argument',
      `template name must be 1-63 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit; got ${JSON.stringify(name)}`,
    );
  }
  return name;
}

export class TemplateStore {
  readonly root: string;

  /** Templates of the agent whose state lives in `home` ($AMBER_HOME). */
  constructor(home: string) {
    this.root = join(home, 'templates');
  }

  dir(name: string): string {
    return join(this.root, validateTemplateName(name));
  }

  async create(
    record: Omit<TemplateRecord, 'memoryBytes' | 'diskBytes'>,
    from: CommittedSnapshot,
  ): Promise<TemplateRecord> {
    const dest = this.dir(record.name);
    await this.requireFree(record.name);
    await mkdir(this.root, { recursive: true });
    const tmp = join(this.root, `.tmp-${record.name}-${newSandboxId()}`);
    try {
      await cloneCommitted(from, tmp);
      const full = { ...record, memoryBytes: memoryBytes(from), diskBytes: await diskBytes(tmp) };
      await writeFileAtomic(join(tmp, RECORD), `${JSON.stringify(full, null, 2)}\n`);
      await rename(tmp, dest).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOTEMPTY' || err.code === 'EEXIST') {
          throw new AgentError('already_exists', `template ${record.name} already exists`);
        }
        throw err;
      });
      await fsyncDir(this.root);
      return full;
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }

  async get(name: string): Promise<TemplateRecord> {
    const text = await readFile(join(this.dir(name), RECORD), 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') throw notFound('template', name);
      throw err;
    });
    const record = JSON.parse(text) as Partial<TemplateRecord> & Omit<TemplateRecord, 'diskBytes'>;
    // Not written back: the files never change, and a template stays immutable, record included.
    if (typeof record.diskBytes !== 'number') record.diskBytes = await diskBytes(this.dir(name));
    return record as TemplateRecord;
  }

  snapshot(name: string): Promise<CommittedSnapshot> {
    return requireCommitted(this.dir(name), `template ${name}`);
  }

  async list(): Promise<TemplateRecord[]> {
    const names = await readdir(this.root).catch(() => [] as string[]);
    const records: TemplateRecord[] = [];
    for (const name of names.filter((n) => NAME.test(n)).sort()) {
      records.push(await this.get(name));
    }
    return records;
  }

  async delete(name: string): Promise<void> {
    await this.get(name);
    // Renamed away first, so a crash mid-delete never leaves a half template under its name.
    const trash = join(this.root, `.tmp-deleted-${name}-${newSandboxId()}`);
    await rename(this.dir(name), trash);
    await fsyncDir(this.root);
    await rm(trash, { recursive: true, force: true });
  }

  /** Leftovers of creates, deletes and working-set recordings a crash interrupted. */
  async cleanUp(): Promise<void> {
    for (const name of await readdir(this.root).catch(() => [] as string[])) {
      if (name.startsWith('.tmp-')) await rm(join(this.root, name), { recursive: true, force: true });
      else await removeWorkingSetLeftovers(this.dir(name));
    }
  }

  /** Throws `already_exists` if a template has the name (`create` also fails on one taken meanwhile). */
  async requireFree(name: string): Promise<void> {
    if (await this.exists(name)) throw new AgentError('already_exists', `template ${name} already exists`);
  }

  private exists(name: string): Promise<boolean> {
    return readFile(join(this.dir(name), RECORD)).then(
      () => true,
      () => false,
    );
  }
}

const DISK_LAYER = /^disk\..+\.qcow2$/;

/**
 * Allocated bytes (st_blocks) of the disk layers in a template's directory: exactly its chain above the base
 * image (`cloneCommitted` links only those). Allocated, not apparent: a qcow2's length says little of what
 * it holds. Layers shared by hard link with the source sandbox or spawned ones are counted here all the same.
 */
async function diskBytes(dir: string): Promise<number> {
  let total = 0;
  for (const name of await readdir(dir)) {
    if (DISK_LAYER.test(name)) total += (await lstat(join(dir, name))).blocks * 512;
  }
  return total;
}

function memoryBytes(snapshot: CommittedSnapshot): number {
  return snapshot.header.mappings.reduce((sum, m) => (m.buildId === ZERO_BUILD_ID ? sum : sum + m.length), 0);
}
