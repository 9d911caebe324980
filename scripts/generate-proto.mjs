#!/usr/bin/env node
// Generates TypeScript from proto/ into packages/proto/src/gen with buf + protoc-gen-es (both from npm).
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(import.meta.url), '../..');
const bin = join(root, 'node_modules/.bin');
rmSync(join(root, 'packages/proto/src/gen'), { recursive: true, force: true });
const result = spawnSync(join(bin, 'buf'), ['generate'], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
});
process.exit(result.status ?? 1);
