// The comparison of two experiments on the Datasets page (#/datasets/<name>?base=…&candidate=…):
// the summary (regressed / improved / unchanged, mean score deltas), one row per example with its
// coloured score deltas and verdict, and each example's two runs side by side (the first
// diverging node, the final-state diff, latency and steps, links to both Run views).
import { renderJson } from "../../renderers/diff";
import { errorText, type ComparedExample, type Comparison, type Experiment, type RunComparison } from "../api";
import { HttpError } from "../sse";
import { badge, button, h, link, Notice, section, shortId, table, type PageContext } from "../ui";
import { deltaClass, diffPath, formatDelta, formatScore, jsonShort, passSummary, plural, runIdOf, stateChangeOp, verdictClass } from "./evals";

export function comparisonView(ctx: PageContext, base: string, candidate: string, datasetRef: string): void {
  const notice = new Notice();
  const back = h("span", { class: "dg-toolbar" }, link("← Datasets", () => ctx.navigate("datasets", {})));
  const heading = h("h2", {}, "Comparison");
  const swap = button("Swap base and candidate", () => ctx.navigate("datasets", { ...(datasetRef ? { dataset: datasetRef } : {}), base: candidate, candidate: base }), { "data-action": "swap" });
  const content = h("div", { class: "dg-compare", "data-dg-comparison": "" }, h("div", { class: "dg-empty" }, "comparing…"));
  ctx.root.append(back, h("div", { class: "dg-toolbar" }, heading, swap), notice.element, content);

  void (async () => {
    let c: Comparison;
    try {
      c = await ctx.api.post<Comparison>("experiments/compare", { base, candidate });
    } catch (err) {
      if (ctx.disposed) return;
      content.replaceChildren();
      const missing = err instanceof HttpError && err.status === 404;
      notice.show(missing ? `cannot compare: ${errorText(err)}` : `could not compare the experiments: ${errorText(err)}`);
      return;
    }
    if (ctx.disposed) return;
    const dataset = c.base.dataset_name;
    back.replaceChildren(link("← Datasets", () => ctx.navigate("datasets", {})), " / ", link(dataset, () => ctx.navigate("datasets", { dataset }), { "data-open-dataset": dataset }));
    heading.textContent = `${c.base.name} → ${c.candidate.name}`;
    content.replaceChildren(...renderComparison(ctx, c));
  })();
}

function experimentLine(role: string, e: Experiment): HTMLElement {
  return h(
    "div",
    { class: "dg-compare-side", "data-dg-side": role },
    h("strong", {}, `${role}: `),
    `${e.name} · ${e.graph_id ?? shortId(e.assistant_id)}${e.assistant_version ? ` v${e.assistant_version}` : ""} · dataset v${e.dataset_version} · ${passSummary(e)}`,
  );
}

function verdictPill(verdict: string, text = verdict): HTMLElement {
  return h("span", { class: verdictClass(verdict), "data-verdict": verdict }, text);
}

/** "base → candidate (delta)", the delta coloured; `digits`: decimals shown (and compared). */
function deltaCell(base: number | null | undefined, candidate: number | null | undefined, delta: number | null | undefined, higherIsBetter = true, unit = "", digits = 3): HTMLElement {
  const d = formatDelta(delta, digits);
  return h(
    "span",
    { class: "dg-score-change" },
    `${formatScore(base, digits)}${unit} → ${formatScore(candidate, digits)}${unit} `,
    h("span", { class: deltaClass(delta, higherIsBetter, digits), "data-delta": d }, `(${d}${unit})`),
  );
}

function passedText(v: boolean | null | undefined): string {
  return v === true ? "✓" : v === false ? "✗" : "–";
}

function scoreNames(c: Comparison): string[] {
  const names = new Set<string>(Object.keys(c.summary?.mean_deltas ?? {}));
  for (const x of c.examples) for (const k of Object.keys(x.scores ?? {})) names.add(k);
  return [...names].sort();
}

function renderComparison(ctx: PageContext, c: Comparison): HTMLElement[] {
  const names = scoreNames(c);
  const s = c.summary;
  const summary = h(
    "div",
    { class: "dg-section dg-compare-summary", "data-dg-summary": "" },
    experimentLine("base", c.base),
    experimentLine("candidate", c.candidate),
    h(
      "div",
      { class: "dg-toolbar" },
      verdictPill("regressed", `${s.regressed} regressed`),
      verdictPill("improved", `${s.improved} improved`),
      verdictPill("unchanged", `${s.unchanged} unchanged`),
      s.errors ? verdictPill("error", plural(s.errors, "error")) : "",
    ),
    names.length
      ? h(
          "div",
          { class: "dg-toolbar", "data-dg-mean-deltas": "" },
          h("span", { class: "dg-muted" }, "mean scores:"),
          ...names.map((n) => h("span", { class: "dg-mean", "data-score": n }, `${n} `, deltaCell(c.base.mean_scores?.[n], c.candidate.mean_scores?.[n], s.mean_deltas?.[n]))),
        )
      : "",
  );
  const rows = c.examples.map((x) =>
    h(
      "tr",
      { "data-example-id": x.example_id, "data-verdict": x.verdict, class: `dg-compare-row dg-row-${x.verdict}` },
      h("td", { class: "dg-num" }, String(x.index)),
      h("td", { title: x.example_id }, shortId(x.example_id)),
      h("td", {}, x.base_status ? badge(x.base_status) : "–", " → ", x.candidate_status ? badge(x.candidate_status) : "–"),
      ...names.map((n) => {
        const sc = x.scores?.[n];
        return h("td", { "data-score": n }, sc ? deltaCell(sc.base, sc.candidate, sc.delta) : h("span", { class: "dg-muted" }, "–"));
      }),
      h("td", {}, `${passedText(x.passed?.base)} → ${passedText(x.passed?.candidate)}`),
      h("td", {}, verdictPill(x.verdict)),
      h("td", {}, ...runLinks(ctx, x.base_run_id ?? x.run?.base, x.candidate_run_id ?? x.run?.candidate)),
    ),
  );
  const examples = section("Examples", table(["#", "example", "status", ...names, "passed", "verdict", "runs"], rows, { "data-dg-compare-examples": "" }));
  const detailed = c.examples.filter((x) => x.run);
  const details = detailed.length
    ? section(
        "Runs side by side",
        h("div", { class: "dg-muted" }, "each example's base run against its candidate run: the first node where they diverge and how their final states differ"),
        ...detailed.map((x) => runDetail(ctx, x)),
      )
    : "";
  return [summary, examples, ...(details ? [details] : [])];
}

function runLinks(ctx: PageContext, base: unknown, candidate: unknown): (HTMLElement | string)[] {
  const out: (HTMLElement | string)[] = [];
  const b = runIdOf(base);
  const k = runIdOf(candidate);
  if (b) out.push(link(`base ${shortId(b)} ↗`, () => ctx.navigate("run", { run_id: b }), { "data-open-run": b, "data-side": "base", title: b }));
  if (b && k) out.push(" ");
  if (k) out.push(link(`candidate ${shortId(k)} ↗`, () => ctx.navigate("run", { run_id: k }), { "data-open-run": k, "data-side": "candidate", title: k }));
  return out;
}

function nodeStep(label: string, step: { node: string; update: unknown } | null): HTMLElement {
  const box = h("div", { class: "dg-pane" });
  if (step) renderJson(box, step.update ?? null);
  return h(
    "div",
    { class: "dg-divergence-side", "data-side": label },
    h("div", { class: "dg-pane-title" }, `${label}: `, step ? h("span", { class: "dg-node-name", "data-node": step.node }, step.node) : h("span", { class: "dg-muted" }, "no node (the run stopped here)")),
    step ? box : "",
  );
}

function runDetail(ctx: PageContext, x: ComparedExample): HTMLElement {
  const r = x.run as RunComparison;
  const d = r.first_divergence;
  const parts: (HTMLElement | string)[] = [];
  if (d) {
    const why = d.reason === "node" ? "a different node ran" : d.reason === "update" ? "the same node returned a different update" : "one run has no node here";
    parts.push(
      h(
        "div",
        { class: "dg-divergence", "data-dg-divergence": "", "data-reason": d.reason },
        h("div", {}, h("strong", {}, `first divergence at node execution ${d.index}${d.step === null || d.step === undefined ? "" : `, step ${d.step}`}`), ` — ${why}`),
        h("div", { class: "dg-replay-panes" }, nodeStep("base", d.base), nodeStep("candidate", d.candidate)),
      ),
    );
  } else {
    parts.push(h("div", { class: "dg-muted", "data-dg-no-divergence": "" }, "the two runs executed the same nodes with the same updates"));
  }
  const diff = r.state_diff ?? [];
  parts.push(
    h("div", { class: "dg-pane-title" }, "Final state: base → candidate"),
    diff.length
      ? h(
          "table",
          { class: "dg-diff", "data-dg-state-diff": "" },
          h(
            "tbody",
            {},
            ...diff.map((c) => {
              const op = stateChangeOp(c.change);
              return h(
                "tr",
                { class: `dg-diff-${op}`, "data-change": c.change },
                h("td", { class: "dg-diff-op" }, op === "add" ? "+" : op === "remove" ? "−" : "~"),
                h("td", { class: "dg-diff-path" }, diffPath(c.path)),
                h("td", { class: "dg-diff-value" }, op !== "add" ? h("pre", { class: "dg-diff-before" }, jsonShort(c.base, 600)) : "", op !== "remove" ? h("pre", { class: "dg-diff-after" }, jsonShort(c.candidate, 600)) : ""),
              );
            }),
          ),
        )
      : h("div", { class: "dg-diff-empty" }, "same final state"),
    h(
      "div",
      { class: "dg-toolbar" },
      h("span", { class: "dg-muted" }, "latency"),
      deltaCell(r.latency_ms?.base, r.latency_ms?.candidate, r.latency_ms?.delta, false, " ms", 0),
      h("span", { class: "dg-muted" }, "steps"),
      deltaCell(r.steps?.base, r.steps?.candidate, r.steps?.delta, false),
      ...runLinks(ctx, x.base_run_id ?? r.base, x.candidate_run_id ?? r.candidate),
    ),
  );
  const open = x.verdict === "regressed" || x.verdict === "error";
  const summaryText = d ? ` diverges at ${d.base?.node ?? d.candidate?.node ?? "?"}` : " same nodes";
  return h(
    "details",
    { class: "dg-compare-detail", "data-dg-run-compare": x.example_id, "data-verdict": x.verdict, ...(open ? { open: "" } : {}) },
    h("summary", {}, `#${x.index} `, verdictPill(x.verdict), summaryText),
    ...parts,
  );
}
