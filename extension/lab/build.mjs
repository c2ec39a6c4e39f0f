// Build step 1 of the JupyterLab extension: bundle src/index.ts (with the dashboard pages and the
// shared renderers from ../src) into lib/index.js with esbuild, leaving @jupyterlab/* and
// @lumino/* to JupyterLab's shared modules, and every stylesheet into lib/index.css. Step 2
// (`npm run build`) is @jupyterlab/builder, which makes the prebuilt (federated) extension in
// duragraph_lab/labextensions/duragraph-lab/ from lib/ (package.json "jupyterlab.outputDir").
import { build } from "esbuild";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const lib = join(here, "lib");
// The version the page compares with the server extension's (GET /info): the Python package's.
const pyVersion = readFileSync(join(here, "..", "..", "duragraph_lab", "_version.py"), "utf8");
const version = /__version__\s*=\s*"([^"]+)"/.exec(pyVersion)?.[1] ?? "0.0.0";

rmSync(lib, { recursive: true, force: true });
await build({
  entryPoints: [join(here, "src", "index.ts")],
  outfile: join(lib, "index.js"),
  bundle: true,
  format: "esm",
  target: "es2020",
  external: ["@jupyterlab/*", "@lumino/*"],
  define: { __DG_FRONTEND_VERSION__: JSON.stringify(version) },
  loader: { ".svg": "text" },
  sourcemap: false,
  legalComments: "none",
  logLevel: "warning",
});
// Stylesheets: the dashboard's (../src/styles/dashboard.css, which imports the renderers' and
// widgets' widgets.css: the same cascade as the standalone page), then the Lab host's own; a
// stylesheet the TypeScript imports (esbuild wrote lib/index.css) comes first.
const styles = join(here, "..", "src", "styles");
const sheets = [
  existsSync(join(styles, "dashboard.css")) ? join(styles, "dashboard.css") : join(styles, "widgets.css"),
  join(here, "style", "lab.css"),
];
const entry = join(lib, "_styles.css");
writeFileSync(entry, sheets.map((s) => `@import ${JSON.stringify(s)};`).join("\n"));
const css = await build({
  entryPoints: [entry],
  bundle: true,
  write: false,
  outfile: join(lib, "styles.css"),
  loader: { ".svg": "dataurl", ".png": "dataurl", ".woff2": "dataurl" },
  logLevel: "warning",
});
rmSync(entry);
const imported = join(lib, "index.css");
const before = existsSync(imported) ? readFileSync(imported, "utf8") + "\n" : "";
writeFileSync(imported, before + css.outputFiles.map((f) => f.text).join("\n"));
