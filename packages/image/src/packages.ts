import { readFile } from 'node:fs/promises';
import { ImageError } from './errors.js';

/**
 * Debian packages of the default image, as E2B's `base` has them: what a user's first commands need
 * (python3 with pip and venv, also as `python`; curl; git; ps/top; ip; less; sudo for `user`).
 */
export const DEFAULT_PACKAGES = [
  'bash',
  'ca-certificates',
  'curl',
  'git',
  'iproute2',
  'less',
  'procps',
  'python-is-python3',
  'python3',
  'python3-pip',
  'python3-venv',
  'sudo',
];

const PACKAGE_NAME = /^[a-z0-9][a-z0-9+.-]+$/;

/** A recipe file: extra Debian packages and shell commands run in the image's root (chroot) after them. */
export interface Recipe {
  packages?: string[];
  run?: string[];
}

export function checkPackages(names: string[]): string[] {
  for (const name of names) {
    if (!PACKAGE_NAME.test(name))
      throw new ImageError('invalid_input', `${JSON.stringify(name)} is not a Debian package name`);
  }
  return names;
}

export async function readRecipe(path: string): Promise<Recipe> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new ImageError('invalid_input', `cannot read the recipe ${path}: ${(err as Error).message}`);
  }
  const recipe = parsed as Recipe;
  const strings = (v: unknown) =>
    v === undefined || (Array.isArray(v) && v.every((s) => typeof s === 'string'));
  if (typeof parsed !== 'object' || parsed === null || !strings(recipe.packages) || !strings(recipe.run))
    throw new ImageError('invalid_input', `${path}: expected {"packages": [string], "run": [string]}`);
  return { packages: checkPackages(recipe.packages ?? []), run: recipe.run ?? [] };
}

/** The default packages plus extras, sorted and unique, so the same set always hashes the same. */
export function packageSet(extra: string[]): string[] {
  return [...new Set([...DEFAULT_PACKAGES, ...checkPackages(extra)])].sort();
}
