import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ImageError } from './errors.js';

interface Source {
  uri: string;
  suites: string[];
}

function deb822(text: string): Source[] {
  const out: Source[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const field = (name: string) =>
      new RegExp(`^${name}:[ \\t]*(.*)$`, 'im').exec(stanza)?.[1]?.trim().split(/\s+/) ?? [];
    if (!field('Types').includes('deb')) continue;
    if (/^Enabled:\s*no\s*$/im.test(stanza)) continue;
    for (const uri of field('URIs')) out.push({ uri, suites: field('Suites') });
  }
  return out;
}

function oneLine(text: string): Source[] {
  const out: Source[] = [];
  for (const line of text.split('\n')) {
    const words = line
      .replace(/#.*/, '')
      .replace(/\[[^\]]*\]/, '')
      .trim()
      .split(/\s+/);
    if (words[0] === 'deb' && words[1] && words[2]) out.push({ uri: words[1], suites: [words[2]] });
  }
  return out;
}

/**
 * The Debian archive this machine's apt already uses for `suite` (deb822 `.sources` files or
 * sources.list), so the image is built from the same mirror as the host's packages and no mirror name is
 * written into Amber. Security-only archives are skipped: they do not carry the whole suite.
 */
export function debianMirror(suite: string, aptDir = '/etc/apt'): string {
  const sources: Source[] = [];
  const listDir = join(aptDir, 'sources.list.d');
  let names: string[] = [];
  try {
    names = readdirSync(listDir).sort();
  } catch {
    // no sources.list.d
  }
  for (const name of names) {
    const text = readFileSync(join(listDir, name), 'utf8');
    if (name.endsWith('.sources')) sources.push(...deb822(text));
    else if (name.endsWith('.list')) sources.push(...oneLine(text));
  }
  try {
    sources.push(...oneLine(readFileSync(join(aptDir, 'sources.list'), 'utf8')));
  } catch {
    // no sources.list
  }
  const found = sources.find((s) => s.suites.includes(suite) && !/security/.test(s.uri));
  if (!found)
    throw new ImageError(
      'invalid_input',
      `apt has no source for Debian ${suite} (looked in ${aptDir}/sources.list and sources.list.d); add one or pass a mirror`,
    );
  return found.uri.replace(/\/+$/, '');
}
