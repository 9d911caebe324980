import { readFileSync, statSync } from 'node:fs';

export interface GuestUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

export interface UserFiles {
  passwdPath?: string;
  groupPath?: string;
}

/** One parse of /etc/passwd or /etc/group, indexed both ways. */
interface Table {
  mtimeMs: number;
  size: number;
  rows: string[][];
  /** id (3rd column) -> name; the first row wins, as getpwuid. */
  names: Map<number, string>;
}

// /etc/passwd and /etc/group are re-read only when they change. A listing resolves every entry's owner
// through one `OwnerNames` (one stat of each file per listing, a map lookup per entry): envd runs in V8's
// interpreter under emulation, where scanning the rows per entry cost a third of a 1,000-entry ListDir.
const cache = new Map<string, Table>();

function table(path: string): Table {
  const info = statSync(path);
  const hit = cache.get(path);
  if (hit && hit.mtimeMs === info.mtimeMs && hit.size === info.size) return hit;
  const rows = readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => line.split(':'));
  const names = new Map<number, string>();
  for (const [name, , id] of rows) {
    const n = Number(id);
    if (name !== undefined && id !== undefined && id !== '' && !names.has(n)) names.set(n, name);
  }
  const parsed = { mtimeMs: info.mtimeMs, size: info.size, rows, names };
  cache.set(path, parsed);
  return parsed;
}

/** Looks a user up in /etc/passwd (the guest has no NSS beyond files). */
export function lookupUser(name: string, files: UserFiles = {}): GuestUser | undefined {
  for (const [user, , uid, gid, , home, shell] of table(files.passwdPath ?? '/etc/passwd').rows) {
    if (user === name && uid !== undefined && gid !== undefined && home !== undefined) {
      return { name, uid: Number(uid), gid: Number(gid), home, shell: shell || '/bin/sh' };
    }
  }
  return undefined;
}

/** Owner and group names as `ls -l` shows them: the name, or the number as text when no entry has it. */
export interface OwnerNames {
  user(uid: number): string;
  group(gid: number): string;
}

/** A snapshot of both tables, for the entries of one answer. */
export function ownerNames(files: UserFiles = {}): OwnerNames {
  const users = table(files.passwdPath ?? '/etc/passwd').names;
  const groups = table(files.groupPath ?? '/etc/group').names;
  return {
    user: (uid) => users.get(uid) ?? String(uid),
    group: (gid) => groups.get(gid) ?? String(gid),
  };
}
