#!/usr/bin/env node
// Prints the gzipped size of the dashboard's first load (index.html, the entry script, the scripts it
// preloads and its CSS) and of what loads later (the terminal), after `vite build`. Goal: first load under
// 300 KiB gzipped, with the terminal counted too.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const dist = fileURLToPath(new URL('../dist', import.meta.url));
const html = readFileSync(join(dist, 'index.html'), 'utf8');
const firstLoad = new Set(['index.html', 'favicon.svg']);
for (const m of html.matchAll(/(?:src|href)="\/([^"]+)"/g)) if (m[1]) firstLoad.add(m[1]);
const gz = (file) => gzipSync(readFileSync(join(dist, file)), { level: 9 }).length;
const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
const assets = readdirSync(join(dist, 'assets')).map((f) => `assets/${f}`);
let first = 0;
let later = 0;
for (const file of [...firstLoad]) first += gz(file);
for (const file of assets) if (!firstLoad.has(file)) later += gz(file);
console.log(`dashboard first load: ${kib(first)} gzipped (${[...firstLoad].length} files)`);
console.log(`dashboard loaded on a sandbox page (terminal): ${kib(later)} gzipped`);
console.log(`dashboard everything: ${kib(first + later)} gzipped (goal: < 300 KiB)`);
