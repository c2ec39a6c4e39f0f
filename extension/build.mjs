// Build the notebook widgets' ESM bundles (anywidget) into duragraph_lab/static/widgets/ and the
// standalone dashboard page's bundle into duragraph_lab/static/dashboard/, or, with --tests, the unit tests into build/tests/ (run with `node --test build/tests/`).
import { build } from "esbuild";
import { readFileSync, readdirSync, rmSync } from "node:fs";
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
  // The dashboard page (duragraph_lab/api/handlers/ui.py serves it): one script and one style
  // sheet; the package's version is compiled in for the page's version handshake.
  const version = /__version__\s*=\s*"([^"]+)"/.exec(
    readFileSync(join(here, "..", "duragraph_lab", "_version.py"), "utf8"),
  )?.[1] ?? "0.0.0+unknown";
  const dashboard = join(here, "..", "duragraph_lab", "static", "dashboard");
  rmSync(dashboard, { recursive: true, force: true });
  await build({
    entryPoints: {
      dashboard: join(here, "src", "dashboard", "standalone.ts"),
    },
    outdir: dashboard,
    bundle: true,
    format: "esm",
    target: "es2020",
    minify: true,
    sourcemap: false,
    legalComments: "none",
    logLevel: "warning",
    define: { __DG_VERSION__: JSON.stringify(version) },
  });
  await build({
    entryPoints: { dashboard: join(here, "src", "styles", "dashboard.css") },
    outdir: dashboard,
    bundle: true,
    minify: true,
    logLevel: "warning",
  });
}
