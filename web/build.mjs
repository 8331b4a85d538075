// Builds the app into dist/: one script (mqtt.js bundled in), one stylesheet,
// one page.  Everything is served by the edge core itself: no CDN.
import { build } from "esbuild";
import { copyFile, mkdir, rm } from "node:fs/promises";

const out = new URL("./dist/", import.meta.url);
await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });
await build({
  entryPoints: ["src/main.js"],
  bundle: true,
  format: "esm",
  platform: "browser",
  target: ["es2020"],
  minify: true,
  sourcemap: "linked",
  legalComments: "linked",
  outfile: "dist/app.js",
  logLevel: "warning",
});
await copyFile(new URL("./index.html", import.meta.url), new URL("index.html", out));
await copyFile(new URL("./src/style.css", import.meta.url), new URL("style.css", out));
