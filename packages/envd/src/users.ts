import { readFileSync } from 'node:fs';

export interface GuestUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

/** Looks a user up in /etc/passwd (the guest has no NSS beyond files). */
export function lookupUser(name: string, passwdPath = '/etc/passwd'): GuestUser | undefined {
  for (const line of readFileSync(passwdPath, 'utf8').split('\n')) {
    const [user, , uid, gid, , home] = line.split(':');
    if (user === name && uid !== undefined && gid !== undefined && home !== undefined) {
      return { name, uid: Number(uid), gid: Number(gid), home };
    }
  }
  return undefined;
}
