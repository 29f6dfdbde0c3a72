import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";
import path from "node:path";
import { apiDocsPlugin } from "./build/api-docs.ts";
import { apiReferencePlugin } from "./build/api-reference.ts";

// Served by the product under /console/ (see src/route.ts); the build is
// plain files, so any static host can serve it too.
export default defineConfig({
  base: "/console/",
  root: import.meta.dirname,
  plugins: [react(), apiReferencePlugin(), apiDocsPlugin(path.join(import.meta.dirname, "dist"))],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // The strict CSP allows no inline script, so nothing is inlined.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    chunkSizeWarningLimit: 500,
  },
});
