// The browser's node-status fold (extension/src/runview/status.ts) run in Node for the Python
// tests: reads {"rows": [...event rows...], "cuts": [n, ...]} on stdin, writes the statuses after
// each cut as a JSON list. Bundled on the fly with the extension's esbuild, so it is the source
// as it is now, not a build that may be stale.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const extension = join(dirname(fileURLToPath(import.meta.url)), "..", "extension");
const { build } = createRequire(join(extension, "package.json"))("esbuild");
const out = await build({
  entryPoints: [join(extension, "src", "runview", "status.ts")],
  bundle: true,
  write: false,
  format: "esm",
  platform: "node",
  logLevel: "warning",
});
const code = out.outputFiles[0].text;
const { nodeStatuses } = await import(`data:text/javascript;base64,${Buffer.from(code).toString("base64")}`);
const { rows, cuts } = JSON.parse(readFileSync(0, "utf8"));
process.stdout.write(JSON.stringify(cuts.map((n) => nodeStatuses(rows, n))));
