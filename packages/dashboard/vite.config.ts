import { defineConfig } from 'vite';

// Preact through esbuild's automatic JSX runtime: no Babel, no plugin.
export default defineConfig({
  base: '/',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: false,
  },
  server: { proxy: { '/v1': { target: 'http://127.0.0.1:4280', ws: true } } },
});
