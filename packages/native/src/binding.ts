import { createRequire } from 'node:module';

/** The raw addon; prefer the typed wrappers exported from index.ts. */
export interface NativeBinding {
  socketInNetns(nsPath: string, family?: 4 | 6): number;
}

const require = createRequire(import.meta.url);
export const binding: NativeBinding = require('../build/Release/amber_native.node');
