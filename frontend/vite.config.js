// Builds one bundle (app.js + app.css) into dist/, which Django serves as static files.
// Fixed file names: Django templates reference them with {% static %}; cache busting is the
// job of the production static pipeline (ManifestStaticFilesStorage), not of this build.
import { defineConfig } from "vite";

export default defineConfig({
  build: {
    outDir: "dist",
    emptyOutDir: true,
    assetsDir: "",
    rollupOptions: {
      input: "src/main.js",
      output: {
        entryFileNames: "app.js",
        chunkFileNames: "[name].js",
        assetFileNames: (info) => (info.names?.[0]?.endsWith(".css") ? "app.css" : "[name][extname]"),
      },
    },
  },
});
