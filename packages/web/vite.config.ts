import { defineConfig } from 'vite';

// No React plugin: esbuild compiles TSX (automatic runtime); we give up Fast Refresh for one
// dependency less. `npm run dev` proxies the API to a Strata server (STRATA_API, default :4000).
const api = process.env.STRATA_API ?? 'http://127.0.0.1:4000';

export default defineConfig({
  esbuild: { jsx: 'automatic' },
  server: { proxy: { '/api': api, '/v1': api, '/sdk': api, '/openapi.json': api, '/docs': api } },
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 1500 },
});
