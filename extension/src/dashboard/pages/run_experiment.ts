// The Datasets page's "Run experiment" form: an assistant (and version), the dataset version, the
// built-in evaluators with their parameters (as the server describes them: GET /evaluators),
// concurrency and a name. Submitting creates the experiment (POST /experiments) and has the server
// run it (POST /experiments/{id}/run); the page's experiment list then follows its progress. What
// the form checks is in experiment_form.ts.
import { errorText, type Assistant, type Dataset, type Experiment } from "../api";
import { button, h, Notice, type PageContext } from "../ui";
import { plural } from "./evals";
import {
  controlKind,
  DEFAULT_CONCURRENCY,
  experimentBody,
  formEvaluators,
  initialValue,
  MAX_CONCURRENCY,
  MIN_CONCURRENCY,
  placeholder,
  runFailure,
  type EvaluatorChoice,
  type EvaluatorDef,
} from "./experiment_form";

/** Ticked when the form opens: a first experiment that works on any chat dataset. */
const DEFAULT_TICKED = new Set(["trajectory_match", "step_budget"]);

export interface RunExperimentForm {
  element: HTMLElement;
  open(): void;
}

export function runExperimentForm(ctx: PageContext, dataset: Dataset, onStarted: (e: Experiment) => void): RunExperimentForm {
  const message = new Notice();
  message.element.setAttribute("data-dg-run-message", "");
  const assistantSel = h("select", { class: "dg-select", "aria-label": "assistant", "data-dg-exp-assistant": "" }, h("option", { value: "" }, "loading…"));
  const assistantVersionSel = h("select", { class: "dg-select", "aria-label": "assistant version", "data-dg-exp-assistant-version": "" }, h("option", { value: "" }, "latest"));
  const versions = [...(dataset.versions ?? [])].sort((a, b) => b.version - a.version);
  const datasetVersionSel = h(
    "select",
    { class: "dg-select", "aria-label": "dataset version", "data-dg-exp-dataset-version": "" },
    h("option", { value: "" }, `latest (v${dataset.version})`),
    ...versions.map((v) => h("option", { value: String(v.version) }, `v${v.version} · ${plural(v.example_count, "example")}`)),
  );
  const concurrency = h("input", {
    type: "number",
    class: "dg-input dg-input-short",
    min: String(MIN_CONCURRENCY),
    max: String(MAX_CONCURRENCY),
    step: "1",
    value: String(DEFAULT_CONCURRENCY),
    "aria-label": "concurrency",
    "data-dg-exp-concurrency": "",
  });
  const name = h("input", { type: "text", class: "dg-input dg-input-wide", placeholder: "name (optional)", "aria-label": "experiment name", maxlength: "200", "data-dg-exp-name": "" });
  const submit = button("Run experiment", () => void run(), { class: "dg-button dg-primary", "data-action": "run-experiment-submit" });
  const close = button("Close", () => {
    element.hidden = true;
  }, { "data-action": "run-experiment-close" });

  let catalogue: EvaluatorDef[] = [];
  let rows: ReturnType<typeof evaluatorRow>[] = [];
  const evaluatorBox = h("fieldset", { class: "dg-evaluators", "data-dg-exp-evaluators": "" }, h("legend", {}, "evaluators"), h("span", { class: "dg-muted" }, "loading…"));
  const element = h(
    "div",
    { class: "dg-form dg-run-form", "data-dg-run-experiment": "", hidden: "", role: "group", "aria-label": "run experiment" },
    h("div", { class: "dg-toolbar" }, h("strong", {}, "Run experiment:"), h("span", { class: "dg-muted" }, `each example of ${dataset.name} re-run on the server and scored`)),
    h(
      "div",
      { class: "dg-toolbar" },
      field("assistant", assistantSel),
      field("version", assistantVersionSel),
      field("dataset", datasetVersionSel),
      field("concurrency", concurrency),
      name,
    ),
    evaluatorBox,
    h("div", { class: "dg-toolbar" }, submit, close, message.element),
  );

  function field(label: string, control: HTMLElement): HTMLElement {
    return h("label", { class: "dg-field" }, h("span", { class: "dg-muted" }, label), control);
  }

  function evaluatorRow(def: EvaluatorDef): { element: HTMLElement; tick: HTMLInputElement; choice(): EvaluatorChoice; input(key: string): HTMLElement | undefined } {
    const tick = h("input", { type: "checkbox", "data-evaluator": def.name, "aria-label": `evaluator ${def.label}` });
    tick.checked = DEFAULT_TICKED.has(def.name);
    const inputs = new Map<string, HTMLInputElement | HTMLSelectElement>();
    const params = def.parameters.map((p) => {
      const attrs = { "data-param": `${def.name}.${p.name}`, "aria-label": `${def.label} ${p.label}`, title: p.description };
      let control: HTMLInputElement | HTMLSelectElement;
      const kind = controlKind(p);
      if (kind === "choice") {
        control = h("select", { class: "dg-select", ...attrs }, ...(p.enum ?? []).map((c) => h("option", { value: c }, c)));
        control.value = initialValue(p);
      } else if (kind === "bool") {
        control = h("input", { type: "checkbox", ...attrs });
        control.checked = initialValue(p) === "true";
      } else {
        const numeric = p.type === "number" || p.type === "integer";
        control = h("input", {
          type: "text",
          class: `dg-input ${numeric ? "dg-input-short" : ""}`,
          ...(numeric ? { inputmode: p.type === "integer" ? "numeric" : "decimal" } : {}),
          placeholder: placeholder(p),
          ...attrs,
        });
        control.value = initialValue(p);
      }
      inputs.set(p.name, control);
      control.addEventListener("input", () => control.removeAttribute("aria-invalid"));
      control.addEventListener("change", () => control.removeAttribute("aria-invalid"));
      return h("label", { class: "dg-param" }, h("span", { class: "dg-muted" }, p.label), control);
    });
    const paramBox = h("span", { class: "dg-params" }, ...params);
    const sync = () => {
      paramBox.toggleAttribute("data-off", !tick.checked);
      for (const c of inputs.values()) c.disabled = !tick.checked;
    };
    tick.addEventListener("change", sync);
    sync();
    const element = h(
      "div",
      { class: "dg-evaluator", "data-dg-evaluator-row": def.name },
      h("label", { class: "dg-evaluator-name", title: def.description }, tick, ` ${def.label}`),
      paramBox,
    );
    return {
      element,
      tick,
      input: (key) => inputs.get(key),
      choice: () => ({
        builtin: def.name,
        values: Object.fromEntries(
          [...inputs].map(([k, c]) => [k, c instanceof HTMLInputElement && c.type === "checkbox" ? String(c.checked) : c.value]),
        ),
      }),
    };
  }

  let catalogueLoaded = false;
  async function loadCatalogue(): Promise<void> {
    if (catalogueLoaded) return;
    try {
      const served = await ctx.api.get<EvaluatorDef[]>("evaluators");
      if (ctx.disposed) return;
      catalogueLoaded = true;
      catalogue = served;
      rows = formEvaluators(served).map((def) => evaluatorRow(def));
      evaluatorBox.replaceChildren(h("legend", {}, "evaluators"), ...rows.map((r) => r.element));
    } catch (err) {
      if (!ctx.disposed) message.show(`could not read the evaluators: ${errorText(err)}`);
    }
  }

  let assistantsLoaded = false;
  async function loadAssistants(): Promise<void> {
    if (assistantsLoaded) return;
    try {
      // The same search as the Playground's picker.
      const list = await ctx.api.post<Assistant[]>("assistants/search", { limit: 200, sort_by: "name", sort_order: "asc" });
      if (ctx.disposed) return;
      assistantsLoaded = true;
      if (!list.length) {
        assistantSel.replaceChildren(h("option", { value: "" }, "no assistants"));
        message.show("no assistants: start a worker with graphs (duragraph-lab dev registers the demos)", "warning");
        return;
      }
      assistantSel.replaceChildren(...list.map((a) => h("option", { value: a.assistant_id, "data-graph-id": a.graph_id }, a.name || a.graph_id)));
      const pick = list.find((a) => a.graph_id === "chat") ?? list[0];
      assistantSel.value = pick.assistant_id;
      await loadAssistantVersions();
    } catch (err) {
      if (!ctx.disposed) message.show(`could not list the assistants: ${errorText(err)}`);
    }
  }

  let versionsGeneration = 0;
  async function loadAssistantVersions(): Promise<void> {
    const mine = ++versionsGeneration;
    const id = assistantSel.value;
    assistantVersionSel.replaceChildren(h("option", { value: "" }, "latest"));
    if (!id) return;
    try {
      const list = await ctx.api.post<Assistant[]>(`assistants/${encodeURIComponent(id)}/versions`, { limit: 100 });
      if (ctx.disposed || mine !== versionsGeneration) return;
      const numbers = [...new Set(list.map((a) => a.version).filter((v): v is number => typeof v === "number"))].sort((a, b) => b - a);
      assistantVersionSel.replaceChildren(
        h("option", { value: "" }, numbers.length ? `latest (v${numbers[0]})` : "latest"),
        ...numbers.map((v) => h("option", { value: String(v) }, `v${v}`)),
      );
    } catch {
      // Versions are optional: "latest" still works.
    }
  }
  assistantSel.addEventListener("change", () => void loadAssistantVersions());

  function markInvalid(fieldName: string | undefined): void {
    for (const el of element.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
    if (!fieldName) return;
    let target: HTMLElement | undefined;
    if (fieldName === "assistant") target = assistantSel;
    else if (fieldName === "concurrency") target = concurrency;
    else if (fieldName === "name") target = name;
    else if (fieldName === "evaluators") target = rows[0]?.tick;
    else {
      const [builtin, key] = fieldName.split(".");
      target = rows.find((r) => r.tick.dataset.evaluator === builtin)?.input(key);
    }
    if (!target) return;
    target.setAttribute("aria-invalid", "true");
    target.focus();
  }

  let busy = false;
  async function run(): Promise<void> {
    if (busy) return;
    const checked = experimentBody({
      dataset: dataset.dataset_id,
      datasetVersion: datasetVersionSel.value,
      assistantId: assistantSel.value,
      assistantVersion: assistantVersionSel.value,
      name: name.value,
      concurrency: concurrency.value,
      evaluators: rows.filter((r) => r.tick.checked).map((r) => r.choice()),
    }, catalogue);
    if (!checked.ok) {
      message.show(checked.problem);
      markInvalid(checked.field);
      return;
    }
    markInvalid(undefined);
    busy = true;
    submit.disabled = true;
    message.show("starting…", "info");
    let step: "create" | "run" = "create";
    try {
      const created = await ctx.api.post<Experiment>("experiments", checked.value);
      step = "run";
      const started = await ctx.api.post<Experiment>(`experiments/${created.experiment_id}/run`, {});
      if (ctx.disposed) return;
      const e = started ?? created;
      message.show(`started ${e.name}: ${plural(e.example_count, "example")}`, "info");
      message.element.setAttribute("data-experiment-id", e.experiment_id);
      name.value = "";
      onStarted(e);
    } catch (err) {
      if (!ctx.disposed) message.show(runFailure(err, step));
    } finally {
      busy = false;
      submit.disabled = false;
    }
  }

  return {
    element,
    open() {
      element.hidden = false;
      void loadCatalogue();
      void loadAssistants();
      assistantSel.focus();
    },
  };
}
