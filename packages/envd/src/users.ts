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

interface Parsed {
  mtimeMs: number;
  rows: string[][];
}

// /etc/passwd and /etc/group are re-read only when they change: ListDir names the owner of every entry.
const cache = new Map<string, Parsed>();

function rows(path: string): string[][] {
  const mtimeMs = statSync(path).mtimeMs;
  const hit = cache.get(path);
  if (hit && hit.mtimeMs === mtimeMs) return hit.rows;
  const parsed = readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => line.split(':'));
  cache.set(path, { mtimeMs, rows: parsed });
  return parsed;
}

/** Looks a user up in /etc/passwd (the guest has no NSS beyond files). */
export function lookupUser(name: string, files: UserFiles = {}): GuestUser | undefined {
  for (const [user, , uid, gid, , home, shell] of rows(files.passwdPath ?? '/etc/passwd')) {
    if (user === name && uid !== undefined && gid !== undefined && home !== undefined) {
      return { name, uid: Number(uid), gid: Number(gid), home, shell: shell || '/bin/sh' };
    }
  }
  return undefined;
}

/** The user name for `uid`, or the number as text when no entry has it (as `ls -l` shows it). */
export function userName(uid: number, files: UserFiles = {}): string {
  for (const [user, , id] of rows(files.passwdPath ?? '/etc/passwd'))
    if (Number(id) === uid) return user ?? '';
  return String(uid);
}

export function groupName(gid: number, files: UserFiles = {}): string {
  for (const [group, , id] of rows(files.groupPath ?? '/etc/group'))
    if (Number(id) === gid) return group ?? '';
  return String(gid);
}
