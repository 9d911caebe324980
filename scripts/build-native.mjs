#!/usr/bin/env node
// Part of `npm run build`: rebuilds @amber/native (the addon, the QEMU shim and the test helper) when its
// C/C++ sources, binding.gyp or the Node version changed since the last build, so tests never run against
// old binaries. The hashes of those inputs are stored beside the build output; node-gyp runs only on a
// change: `build` (make, which recompiles what changed) when only csrc/ did, `rebuild` otherwise.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const NATIVE_OUTPUTS = ['amber_native.node', 'qemu-uffd-shim.so', 'uffd-helper'];
const STAMP = '.sources-sha256';

function listFiles(dir, out = []) {
  for (const entry of readdirSync(dir).sort()) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) listFiles(path, out);
    else out.push(path);
  }
  return out;
}

function hashFiles(nativeDir, files, prefix) {
  const hash = createHash('sha256').update(prefix);
  for (const file of files)
    hash
      .update(`${relative(nativeDir, file)}\n`)
      .update(readFileSync(file))
      .update('\n');
  return hash.digest('hex');
}

/** What the native build reads: `config` (binding.gyp and the Node version) and `sources` (csrc/**). */
export function nativeInputHashes(nativeDir) {
  return {
    config: hashFiles(nativeDir, [join(nativeDir, 'binding.gyp')], `node ${process.version}\n`),
    sources: hashFiles(nativeDir, listFiles(join(nativeDir, 'csrc')), ''),
  };
}

/**
 * 'up-to-date' when every output exists and the stored hashes match the inputs; 'build' when only the
 * sources changed (the generated Makefile still holds); 'rebuild' otherwise. `why` says what changed.
 */
export function nativeBuildState(nativeDir) {
  const release = join(nativeDir, 'build', 'Release');
  const absent = NATIVE_OUTPUTS.filter((name) => !existsSync(join(release, name)));
  if (absent.length > 0) return { state: 'rebuild', why: `missing ${absent.join(', ')}` };
  const stampPath = join(nativeDir, 'build', STAMP);
  if (!existsSync(stampPath)) return { state: 'rebuild', why: 'no record of the inputs built' };
  const [config, sources] = readFileSync(stampPath, 'utf8').trim().split('\n');
  const current = nativeInputHashes(nativeDir);
  if (config !== current.config) return { state: 'rebuild', why: 'binding.gyp or the Node version changed' };
  if (sources !== current.sources) return { state: 'build', why: 'csrc/ changed' };
  return { state: 'up-to-date', why: '' };
}

export function recordNativeBuild(nativeDir) {
  const { config, sources } = nativeInputHashes(nativeDir);
  writeFileSync(join(nativeDir, 'build', STAMP), `${config}\n${sources}\n`);
}

/** npm's own node-gyp (npm names it to its scripts), the one the package's install script uses. */
function nodeGyp() {
  if (process.env.npm_config_node_gyp) return process.env.npm_config_node_gyp;
  const npmRoot = spawnSync('npm', ['root', '-g'], { encoding: 'utf8' }).stdout.trim();
  return join(npmRoot, 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
}

function main() {
  const root = resolve(fileURLToPath(import.meta.url), '../..');
  const nativeDir = join(root, 'packages', 'native');
  const { state, why } = nativeBuildState(nativeDir);
  if (state === 'up-to-date') return;
  console.log(`@amber/native: node-gyp ${state} (${why})`);
  // nodedir comes from the repository's .npmrc, as for `npm ci`.
  const build = spawnSync(process.execPath, [nodeGyp(), state, '--loglevel=warn'], {
    cwd: nativeDir,
    stdio: 'inherit',
    env: { ...process.env, npm_config_nodedir: process.env.npm_config_nodedir ?? '/usr' },
  });
  if (build.status !== 0) {
    console.error(`@amber/native: node-gyp ${state} failed`);
    process.exit(build.status ?? 1);
  }
  const absent = NATIVE_OUTPUTS.filter((name) => !existsSync(join(nativeDir, 'build', 'Release', name)));
  if (absent.length > 0) {
    console.error(`@amber/native: the build did not produce ${absent.join(', ')}`);
    process.exit(1);
  }
  recordNativeBuild(nativeDir);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
