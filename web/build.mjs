// Builds the app into dist/: one script (mqtt.js bundled in), one stylesheet,
// one page.  Everything is served by the edge core itself: no CDN.  The new
// build is made aside and swapped in, so a running core never serves half a build.
import { build } from "esbuild";
import { copyFile, mkdir, rename, rm } from "node:fs/promises";

const here = new URL("./", import.meta.url);
const next = new URL("./dist.next/", here);
const dist = new URL("./dist/", here);
const old = new URL("./dist.old/", here);

await rm(next, { recursive: true, force: true });
await mkdir(next, { recursive: true });
await build({
  entryPoints: [new URL("src/main.js", here).pathname],
  bundle: true,
  format: "esm",
  platform: "browser",
  target: ["es2020"],
  minify: true,
  sourcemap: "linked",
  legalComments: "linked",
  outfile: new URL("app.js", next).pathname,
  logLevel: "warning",
});
await copyFile(new URL("index.html", here), new URL("index.html", next));
await copyFile(new URL("src/style.css", here), new URL("style.css", next));
await rm(old, { recursive: true, force: true });
await rename(dist, old).catch((err) => {
  if (err.code !== "ENOENT") throw err;
});
await rename(next, dist);
await rm(old, { recursive: true, force: true });
