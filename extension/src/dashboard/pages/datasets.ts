// Datasets: the evaluation datasets (runs frozen into examples, issue 8), one dataset's versions,
// examples and experiments, and (compare.ts) the comparison of two experiments. Routes:
// #/datasets, #/datasets/<name or id> (?version=N),
// #/datasets/<name>?base=<experiment id>&candidate=<experiment id>.
import { errorText, type Dataset, type DatasetExamples, type Example, type Experiment } from "../api";
import { HttpError } from "../sse";
import { badge, button, download, formatWhen, h, link, Notice, shortId, table, type PageContext } from "../ui";
import { comparisonView } from "./compare";
import { baseAndCandidate, downloadName, fileSafe, jsonShort, meanScores, passSummary, plural, valuePreview } from "./evals";
import { ensureEvalsStyles } from "./evals_style";
import { compareCandidates, pollInterval, progressOf } from "./experiment_form";
import { runExperimentForm } from "./run_experiment";

export function datasetsPage(ctx: PageContext): void {
  const p = ctx.params;
  ensureEvalsStyles(ctx.root);
  if (p.base && p.candidate) comparisonView(ctx, p.base, p.candidate, p.dataset ?? "");
  else if (p.dataset) datasetView(ctx, p.dataset, p.version);
  else datasetList(ctx);
}

function errorBox(text: string): HTMLElement {
  return h("div", { class: "dg-notice dg-notice-error", "data-dg-message": "error", role: "alert" }, text);
}

function notFound(err: unknown): boolean {
  return err instanceof HttpError && err.status === 404;
}

// -- the list ---------------------------------------------------------------------------------
function datasetList(ctx: PageContext): void {
  const notice = new Notice();
  const search = h("input", { type: "search", class: "dg-input", placeholder: "search by name", "aria-label": "search datasets", "data-dg-search": "" });
  const count = h("span", { class: "dg-muted" });
  const body = h("div", { class: "dg-scroll" }, h("div", { class: "dg-empty" }, "loading…"));
  ctx.root.append(h("div", { class: "dg-toolbar" }, h("h2", {}, "Datasets"), search, count), notice.element, body);

  let generation = 0;
  async function load(): Promise<void> {
    const mine = ++generation;
    const q = search.value.trim();
    try {
      const list = await ctx.api.get<Dataset[]>(`datasets?limit=200${q ? `&name=${encodeURIComponent(q)}` : ""}`);
      if (ctx.disposed || mine !== generation) return;
      notice.clear();
      count.textContent = plural(list.length, "dataset");
      if (!list.length) {
        body.replaceChildren(
          h(
            "div",
            { class: "dg-empty", "data-dg-no-datasets": "" },
            q ? "no dataset matches" : "no datasets yet: tick runs on the ",
            q ? "" : link("Runs", () => ctx.navigate("runs", {})),
            q ? "" : " page and use Save as dataset, or create one from a notebook (client.datasets.create).",
          ),
        );
        return;
      }
      body.replaceChildren(
        table(
          ["name", "description", "version", "versions", "examples", "updated"],
          list.map((d) =>
            h(
              "tr",
              { "data-dataset-id": d.dataset_id, "data-dataset-name": d.name },
              h("td", {}, link(d.name, () => ctx.navigate("datasets", { dataset: d.name }), { "data-open-dataset": d.name, title: d.dataset_id })),
              h("td", { class: "dg-muted dg-clip" }, d.description ?? ""),
              h("td", { class: "dg-num" }, `v${d.version}`),
              h("td", { class: "dg-num" }, String(d.versions?.length ?? d.version)),
              h("td", { class: "dg-num", "data-dg-example-count": "" }, String(d.example_count)),
              h("td", {}, formatWhen(d.updated_at)),
            ),
          ),
          { "data-dg-datasets": "" },
        ),
      );
    } catch (err) {
      if (!ctx.disposed) notice.show(`could not list datasets: ${errorText(err)}`);
    }
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  search.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => void load(), 200);
  });
  ctx.onDispose(() => clearTimeout(timer));
  void load();
}

// -- one dataset ------------------------------------------------------------------------------
function datasetView(ctx: PageContext, ref: string, versionParam: string | undefined): void {
  const notice = new Notice();
  const back = link("← Datasets", () => ctx.navigate("datasets", {}), { "data-action": "all-datasets" });
  const title = h("h2", {}, ref);
  const meta = h("div", { class: "dg-muted" });
  const versionSel = h("select", { class: "dg-select", "aria-label": "dataset version", "data-dg-version": "" });
  const deleteBox = h("span", { class: "dg-toolbar" });
  const examplesBox = h("div", { class: "dg-scroll" }, h("div", { class: "dg-empty" }, "loading…"));
  const compareBtn = button("Compare", () => compare(), { "data-action": "compare", disabled: "", title: "tick two experiments to compare them" });
  const compareHint = h("span", { class: "dg-muted" }, "tick two experiments to compare them");
  const experimentsBox = h("div", { class: "dg-scroll" }, h("div", { class: "dg-empty" }, "loading…"));
  const runBtn = button("Run experiment", () => openRunForm(), { "data-action": "run-experiment", disabled: "", title: "re-run this dataset against an assistant on the server and score it" });
  const runFormBox = h("div", {});
  const examplesTitle = h("span", {}, "Examples");
  ctx.root.append(
    h("div", { class: "dg-toolbar" }, back),
    h("div", { class: "dg-toolbar" }, title, h("label", { class: "dg-muted" }, "version"), versionSel, deleteBox),
    meta,
    notice.element,
    h("section", { class: "dg-section", "data-dg-experiments-section": "" }, h("h3", { class: "dg-section-title" }, "Experiments"), h("div", { class: "dg-toolbar" }, runBtn, compareBtn, compareHint), runFormBox, experimentsBox),
    h("section", { class: "dg-section" }, h("h3", { class: "dg-section-title" }, examplesTitle), examplesBox),
  );

  let dataset: Dataset | null = null;
  let experiments: Experiment[] = [];
  const ticked = new Set<string>();
  let runForm: ReturnType<typeof runExperimentForm> | null = null;

  function openRunForm(): void {
    if (!dataset) return;
    if (!runForm) {
      runForm = runExperimentForm(ctx, dataset, () => void refreshNow());
      runFormBox.replaceChildren(runForm.element);
    }
    runForm.open();
  }

  function renderDelete(): void {
    const del = button("Delete dataset", () => {
      deleteBox.replaceChildren(
        h("span", { class: "dg-error-text" }, `delete ${dataset?.name ?? ref} and all its versions?`),
        button("Delete", () => void remove(), { "data-action": "confirm-delete" }),
        button("Keep", () => renderDelete(), { "data-action": "keep" }),
      );
    }, { "data-action": "delete-dataset" });
    deleteBox.replaceChildren(del);
  }

  async function remove(): Promise<void> {
    if (!dataset) return;
    try {
      await ctx.api.del(`datasets/${encodeURIComponent(dataset.dataset_id)}`);
      ctx.navigate("datasets", {});
    } catch (err) {
      notice.show(`could not delete ${dataset.name}: ${errorText(err)}`);
      renderDelete();
    }
  }

  async function loadExamples(version: number): Promise<void> {
    examplesTitle.textContent = `Examples (version ${version})`;
    examplesBox.replaceChildren(h("div", { class: "dg-empty" }, "loading…"));
    try {
      const page = await ctx.api.get<DatasetExamples>(`datasets/${encodeURIComponent(ref)}/examples?version=${version}`);
      if (ctx.disposed) return;
      examplesBox.replaceChildren(examplesTable(ctx, page.examples));
    } catch (err) {
      if (!ctx.disposed) examplesBox.replaceChildren(errorBox(`could not load the examples of version ${version}: ${errorText(err)}`));
    }
  }

  function updateCompare(): void {
    const pair = baseAndCandidate(experiments.filter((e) => ticked.has(e.experiment_id)));
    compareBtn.disabled = pair === null;
    compareHint.textContent = pair ? "the older one is the base" : ticked.size > 2 ? "tick exactly two experiments" : "tick two experiments to compare them";
  }

  function compare(): void {
    const pair = baseAndCandidate(experiments.filter((e) => ticked.has(e.experiment_id)));
    if (pair && dataset) ctx.navigate("datasets", { dataset: dataset.name, ...pair });
  }

  async function exportNotebook(e: Experiment, btn: HTMLButtonElement): Promise<void> {
    btn.disabled = true;
    try {
      const resp = await ctx.api.raw(`experiments/${e.experiment_id}/notebook`);
      const name = downloadName(resp.headers.get("Content-Disposition"), `${fileSafe(e.name)}.ipynb`);
      download(name, await resp.blob());
    } catch (err) {
      notice.show(`could not export the notebook of ${e.name}: ${errorText(err)}`);
    } finally {
      btn.disabled = false;
    }
  }

  // One row per experiment, redrawn only when that experiment changed: a redraw under the pointer
  // (or of a select the user has open) could swallow a click.
  const rowCache = new Map<string, { key: string; row: HTMLElement }>();
  let tbody: HTMLElement | null = null;

  function renderExperiments(): void {
    if (!experiments.length) {
      rowCache.clear();
      tbody = null;
      experimentsBox.replaceChildren(
        h(
          "div",
          { class: "dg-empty", "data-dg-no-experiments": "" },
          "no experiments yet: use Run experiment above, or run one from a notebook with duragraph_lab.evals.run_experiment(client, ",
          h("code", {}, JSON.stringify(dataset?.name ?? ref)),
          ", assistant, evaluators) or %duragraph experiment",
        ),
      );
      updateCompare();
      return;
    }
    const rows = experiments.map((e) => {
      const key = rowKey(e);
      const cached = rowCache.get(e.experiment_id);
      if (cached && cached.key === key) return cached.row;
      const row = experimentRow(e);
      if (cached) cached.row.replaceWith(row);
      rowCache.set(e.experiment_id, { key, row });
      return row;
    });
    for (const id of [...rowCache.keys()]) if (!experiments.some((e) => e.experiment_id === id)) rowCache.delete(id);
    if (!tbody || !experimentsBox.contains(tbody)) {
      const t = table(["", "experiment", "status", "progress", "assistant", "dataset", "results", "mean scores", "created", ""], rows, { "data-dg-experiments": "" });
      tbody = t.tBodies[0];
      experimentsBox.replaceChildren(t);
    } else if (rows.length !== tbody.children.length || rows.some((r, i) => tbody?.children[i] !== r)) {
      tbody.replaceChildren(...rows);
    }
    updateCompare();
  }

  function rowKey(e: Experiment): string {
    // The other experiments are in the key too: they are the "Compare with…" choices.
    return JSON.stringify([e.status, e.runner, e.running, e.result_count, e.example_count, e.passed, e.failed, e.errors, e.mean_scores, e.name, experiments.length]);
  }

  function experimentRow(e: Experiment): HTMLElement {
    const tick = h("input", { type: "checkbox", "aria-label": `tick experiment ${e.name}`, "data-tick": e.experiment_id });
    tick.checked = ticked.has(e.experiment_id);
    tick.addEventListener("change", () => {
      if (tick.checked) ticked.add(e.experiment_id);
      else ticked.delete(e.experiment_id);
      updateCompare();
    });
    const exportBtn: HTMLButtonElement = button("Export notebook", () => void exportNotebook(e, exportBtn), { "data-action": "export-notebook", title: "download a notebook that re-runs this experiment" });
    return h(
      "tr",
      { "data-experiment-id": e.experiment_id, "data-status": e.status, ...(e.runner ? { "data-runner": e.runner } : {}) },
      h("td", { class: "dg-tick" }, tick),
      h("td", { title: e.experiment_id }, e.name),
      h("td", {}, h("span", { class: `dg-pill dg-pill-${e.status === "completed" ? "success" : "running"}`, "data-status": e.status }, e.status)),
      h("td", {}, progressBar(e)),
      h("td", {}, `${e.graph_id ?? shortId(e.assistant_id)}${e.assistant_version ? ` v${e.assistant_version}` : ""}`),
      h("td", { class: "dg-num" }, `v${e.dataset_version}`),
      h("td", { "data-dg-pass": "" }, passSummary(e)),
      h("td", { "data-dg-means": "" }, meanScores(e.mean_scores)),
      h("td", {}, formatWhen(e.created_at)),
      h("td", { class: "dg-row-actions" }, exportBtn, compareWith(e)),
    );
  }

  function progressBar(e: Experiment): HTMLElement {
    const p = progressOf(e);
    const fill = h("span", { class: "dg-progress-fill" });
    fill.style.width = `${Math.round(p.fraction * 100)}%`;
    return h(
      "span",
      {
        class: `dg-progress${e.status === "running" ? " dg-progress-running" : ""}`,
        role: "progressbar",
        "aria-label": `progress of ${e.name}`,
        "aria-valuemin": "0",
        "aria-valuemax": String(p.total),
        "aria-valuenow": String(p.done),
        "aria-valuetext": `${p.label} · ${p.counts}`,
        title: `${p.label} examples recorded · ${p.counts}`,
        "data-dg-progress": e.experiment_id,
        "data-done": String(p.done),
        "data-total": String(p.total),
        "data-status": e.status,
      },
      h("span", { class: "dg-progress-track" }, fill),
      h("span", { class: "dg-progress-label", "data-dg-progress-label": "" }, p.label),
      h(
        "span",
        { class: "dg-progress-counts", "data-dg-progress-counts": "", "aria-hidden": "true" },
        h("span", { class: "dg-count-passed", title: "passed" }, `✓${e.passed}`),
        " ",
        h("span", { class: "dg-count-failed", title: "failed" }, `✗${e.failed}`),
        " ",
        h("span", { class: "dg-count-errors", title: "errors" }, `⚠${e.errors}`),
      ),
    );
  }

  function compareWith(e: Experiment): HTMLElement | string {
    if (e.status !== "completed") return "";
    const others = compareCandidates(e, experiments);
    if (!others.length) return "";
    const sel = h(
      "select",
      { class: "dg-select", "aria-label": `compare ${e.name} with`, "data-dg-compare-with": e.experiment_id },
      h("option", { value: "" }, "compare with…"),
      ...others.map((o) => h("option", { value: o.experiment_id }, `${o.name}${o.status === "completed" ? "" : ` (${o.status})`}`)),
    );
    const go = button("Compare", () => {
      if (sel.value && dataset) ctx.navigate("datasets", { dataset: dataset.name, base: sel.value, candidate: e.experiment_id });
    }, { "data-action": "compare-with", title: "the picked experiment is the base, this one the candidate", disabled: "" });
    sel.addEventListener("change", () => (go.disabled = !sel.value));
    return h("span", { class: "dg-compare-with" }, sel, go);
  }

  async function loadExperiments(): Promise<void> {
    if (!dataset) return;
    const list = await ctx.api.get<Experiment[]>(`experiments?dataset=${encodeURIComponent(dataset.dataset_id)}&limit=200`);
    if (ctx.disposed) return;
    experiments = list;
    for (const id of [...ticked]) if (!list.some((e) => e.experiment_id === id)) ticked.delete(id);
    renderExperiments();
  }

  // Experiments still running record results: follow them, every second while the server runs
  // one, every 3 s otherwise; never after the page (or the dataset shown) changed.
  let timer: ReturnType<typeof setTimeout> | undefined;
  let inFlight: Promise<void> | null = null;
  async function tick(): Promise<void> {
    clearTimeout(timer);
    try {
      inFlight = loadExperiments();
      await inFlight;
    } catch (err) {
      if (!ctx.disposed) experimentsBox.replaceChildren(errorBox(`could not list the experiments: ${errorText(err)}`));
      tbody = null;
      rowCache.clear();
    } finally {
      inFlight = null;
    }
    if (!ctx.disposed) timer = setTimeout(() => void tick(), pollInterval(experiments));
  }
  async function refreshNow(): Promise<void> {
    if (inFlight) await inFlight.catch(() => undefined);
    if (!ctx.disposed) await tick();
  }
  ctx.onDispose(() => clearTimeout(timer));

  void (async () => {
    try {
      dataset = await ctx.api.get<Dataset>(`datasets/${encodeURIComponent(ref)}`);
    } catch (err) {
      if (ctx.disposed) return;
      notice.show(notFound(err) ? `dataset ${ref} does not exist (it may have been deleted)` : `could not load dataset ${ref}: ${errorText(err)}`);
      examplesBox.replaceChildren();
      experimentsBox.replaceChildren();
      return;
    }
    if (ctx.disposed) return;
    const d = dataset;
    ctx.root.setAttribute("data-dg-dataset", d.name);
    title.textContent = d.name;
    meta.replaceChildren(
      d.description ? h("div", { class: "dg-dataset-description" }, d.description) : "",
      `${d.dataset_id} · created ${formatWhen(d.created_at)} · updated ${formatWhen(d.updated_at)} · ${plural(d.versions?.length ?? d.version, "version")}`,
    );
    const versions = [...(d.versions ?? [])].sort((a, b) => b.version - a.version);
    versionSel.replaceChildren(...versions.map((v) => h("option", { value: String(v.version) }, `v${v.version} · ${plural(v.example_count, "example")} · ${formatWhen(v.created_at)}`)));
    const wanted = Number(versionParam);
    const version = versions.some((v) => v.version === wanted) ? wanted : d.version;
    if (versionParam && version !== wanted) notice.show(`dataset ${d.name} has no version ${versionParam}: showing version ${d.version}`, "warning");
    versionSel.value = String(version);
    versionSel.addEventListener("change", () => ctx.navigate("datasets", { dataset: d.name, version: versionSel.value }));
    renderDelete();
    void loadExamples(version);
    runBtn.disabled = false;
    void tick();
  })();
}

function examplesTable(ctx: PageContext, examples: readonly Example[]): HTMLElement {
  if (!examples.length) return h("div", { class: "dg-empty" }, "this version has no examples");
  const rows = examples.map((x) => {
    const src = x.source;
    const nodes = (x.nodes ?? []).map((n) => n.node);
    return h(
      "tr",
      { "data-example-id": x.example_id, "data-index": String(x.index) },
      h("td", { class: "dg-num" }, String(x.index)),
      h("td", { class: "dg-cell-json", title: jsonShort(x.inputs, 2000) }, valuePreview(x.inputs)),
      h("td", { class: "dg-cell-json", title: jsonShort(x.outputs, 2000) }, x.outputs === null || x.outputs === undefined ? h("span", { class: "dg-muted" }, "—") : valuePreview(x.outputs)),
      h(
        "td",
        {},
        src?.run_id
          ? link(`${shortId(src.run_id)} ↗`, () => ctx.navigate("run", { run_id: src.run_id, ...(src.thread_id ? { thread_id: src.thread_id } : {}) }), { "data-open-run": src.run_id, title: src.run_id })
          : h("span", { class: "dg-muted" }, "hand-written"),
        src?.status ? " " : "",
        src?.status ? badge(src.status) : "",
      ),
      h("td", { class: "dg-num" }, x.latency_ms === null || x.latency_ms === undefined ? "" : `${Math.round(x.latency_ms)} ms`),
      h("td", { class: "dg-num" }, x.steps === null || x.steps === undefined ? "" : String(x.steps)),
      h("td", { class: "dg-muted dg-clip", title: nodes.join(" → ") }, nodes.join(" → ")),
      h("td", { class: "dg-error-text dg-clip" }, x.error ? jsonShort(x.error, 60) : ""),
    );
  });
  return table(["#", "inputs", "outputs", "source run", "latency", "steps", "nodes", "error"], rows, { "data-dg-examples": "" });
}
