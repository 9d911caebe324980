import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { debianMirror } from './apt-mirror.js';

function aptDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'apt-'));
  mkdirSync(join(dir, 'sources.list.d'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

test('the mirror comes from a deb822 .sources file, skipping security archives', (t) => {
  const dir = aptDir({
    'sources.list.d/a.sources':
      'Types: deb\nURIs: http://security.example/debian-security\nSuites: bookworm-security\n\n' +
      'Types: deb deb-src\nURIs: http://mirror.example/debian/\nSuites: bookworm bookworm-updates\nComponents: main\n',
  });
  t.after(() => rmSync(dir, { recursive: true }));
  assert.equal(debianMirror('bookworm', dir), 'http://mirror.example/debian');
});

test('or from sources.list one-line entries, options and comments ignored', (t) => {
  const dir = aptDir({
    'sources.list':
      '# deb http://old.example/debian bookworm main\n' +
      'deb [signed-by=/k.gpg] http://security.example/debian-security bookworm main\n' +
      'deb [arch=amd64] http://other.example/debian bookworm main contrib\n',
  });
  t.after(() => rmSync(dir, { recursive: true }));
  assert.equal(debianMirror('bookworm', dir), 'http://other.example/debian');
});

test('no source for the suite is an error that says where it looked', (t) => {
  const dir = aptDir({ 'sources.list': 'deb http://x.example/debian bullseye main\n' });
  t.after(() => rmSync(dir, { recursive: true }));
  assert.throws(() => debianMirror('bookworm', dir), /no source for Debian bookworm/);
});
