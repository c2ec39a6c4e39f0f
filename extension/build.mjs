// Build the notebook widgets' ESM bundles (anywidget) into duragraph_lab/static/widgets/,
// or, with --tests, the unit tests into build/tests/ (run with `node --test build/tests/`).
import { build } from "esbuild";
import { readdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const tests = process.argv.includes("--tests");

if (tests) {
  const dir = join(here, "test");
  const entryPoints = readdirSync(dir)
    .filter((f) => f.endsWith(".test.ts"))
    .map((f) => join(dir, f));
  rmSync(join(here, "build", "tests"), { recursive: true, force: true });
  await build({
    entryPoints,
    outdir: join(here, "build", "tests"),
    outExtension: { ".js": ".mjs" },
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    logLevel: "warning",
  });
} else {
  const out = join(here, "..", "duragraph_lab", "static", "widgets");
  const widgets = join(here, "src", "widgets");
  const entryPoints = Object.fromEntries(
    readdirSync(widgets)
      .filter((f) => f.endsWith(".ts"))
      .map((f) => [f.replace(/\.ts$/, ""), join(widgets, f)]),
  );
  entryPoints.widgets = join(here, "src", "styles", "widgets.css");
  rmSync(out, { recursive: true, force: true });
  await build({
    entryPoints,
    outdir: out,
    bundle: true,
    format: "esm",
    target: "es2020",
    minify: true,
    sourcemap: false,
    legalComments: "none",
    logLevel: "warning",
  });
}
