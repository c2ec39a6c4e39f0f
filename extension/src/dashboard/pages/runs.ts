// Runs: recent runs across threads, filtered by status, assistant and duration; refreshed live;
// active runs can be cancelled; the ticked runs, or the filtered ones, can be saved as a dataset.
import { ACTIVE, errorText, formatTokens, recentRuns, runDuration, type Assistant, type Dataset, type Run } from "../api";
import { badge, button, formatDuration, formatWhen, h, link, Notice, poll, shortId, type PageContext } from "../ui";
import { datasetSource, nameProblem, narrowSource, plural, saveDatasetBody, saveFailure, selectionWarnings } from "./evals";
import { ensureEvalsStyles } from "./evals_style";

export const RUN_STATUSES = ["pending", "running", "success", "error", "interrupted", "cancelled", "timeout"];

export interface RunFilter {
  status: string;
  assistant: string;
  minSeconds: number | null;
  maxSeconds: number | null;
}

export function filterRuns(runs: readonly Run[], f: RunFilter, now = Date.now()): Run[] {
  return runs.filter((r) => {
    if (f.status && r.status !== f.status) return false;
    if (f.assistant && r.assistant_id !== f.assistant && r.graph_id !== f.assistant) return false;
    if (f.minSeconds !== null || f.maxSeconds !== null) {
      const d = runDuration(r, now);
      if (d === null) return false;
      if (f.minSeconds !== null && d < f.minSeconds) return false;
      if (f.maxSeconds !== null && d > f.maxSeconds) return false;
    }
    return true;
  });
}

export function runsPage(ctx: PageContext): void {
  ensureEvalsStyles(ctx.root);
  const notice = new Notice();
  const status = h("select", { class: "dg-select", "aria-label": "status", "data-filter": "status" }, h("option", { value: "" }, "any status"), ...RUN_STATUSES.map((s) => h("option", { value: s }, s)));
  const assistant = h("select", { class: "dg-select", "aria-label": "assistant", "data-filter": "assistant" }, h("option", { value: "" }, "any assistant"));
  const minD = h("input", { type: "number", min: "0", step: "0.1", placeholder: "min s", class: "dg-input dg-input-short", "aria-label": "minimum duration (s)", "data-filter": "min" });
  const maxD = h("input", { type: "number", min: "0", step: "0.1", placeholder: "max s", class: "dg-input dg-input-short", "aria-label": "maximum duration (s)", "data-filter": "max" });
  if (ctx.params.status) status.value = ctx.params.status;
  const count = h("span", { class: "dg-muted" });
  const saveBtn = button("Save as dataset", () => openForm(), { "data-action": "save-dataset", title: "freeze the ticked runs (or, with none ticked, the runs the filters select) into an evaluation dataset" });
  const toolbar = h("div", { class: "dg-toolbar" }, h("h2", {}, "Runs"), status, assistant, h("label", { class: "dg-muted" }, "duration"), minD, maxD, count, saveBtn);
  const tickAll = h("input", { type: "checkbox", "aria-label": "tick every run shown", "data-action": "tick-all" });
  const tbody = h("tbody");
  const table = h(
    "table",
    { class: "dg-table", "data-dg-runs": "" },
    h("thead", {}, h("tr", {}, h("th", { class: "dg-tick" }, tickAll), ...["run", "thread", "assistant", "status", "started", "duration", "tokens", ""].map((c) => h("th", {}, c)))),
    tbody,
  );
  const form = saveForm();
  ctx.root.append(toolbar, form.element, notice.element, h("div", { class: "dg-scroll" }, table));

  let runs: Run[] = [];
  let shown: Run[] = [];
  const ticked = new Set<string>();
  const names = new Map<string, string>();
  const num = (el: HTMLInputElement) => (el.value === "" || !Number.isFinite(Number(el.value)) ? null : Number(el.value));
  const view = () => ({ status: status.value, assistant: assistant.value, minSeconds: num(minD), maxSeconds: num(maxD) });
  const source = () => datasetSource(view(), [...ticked], shown, (id) => names.get(id) ?? id);
  /** The runs a dataset would freeze, as far as the page knows them: the ticked ones, or those
   * shown at rest (the server applies the filters itself). */
  const covered = () => (ticked.size ? runs.filter((r) => ticked.has(r.run_id)) : shown.filter((r) => view().status || !ACTIVE.has(r.status)));

  function render(): void {
    shown = filterRuns(runs, view());
    count.textContent = `${shown.length} of ${runs.length} runs${ticked.size ? ` · ${ticked.size} ticked` : ""}`;
    tickAll.checked = shown.length > 0 && shown.every((r) => ticked.has(r.run_id));
    tickAll.indeterminate = !tickAll.checked && shown.some((r) => ticked.has(r.run_id));
    form.update();
    if (shown.length === 0) {
      tbody.replaceChildren(h("tr", {}, h("td", { colspan: "9", class: "dg-empty" }, runs.length ? "no run matches the filters" : "no runs yet — start one in the Playground")));
      return;
    }
    tbody.replaceChildren(
      ...shown.map((r) => {
        const cancel = ACTIVE.has(r.status)
          ? button("Cancel", () => void cancelRun(r), { "data-action": "cancel" })
          : h("span");
        const tick = h("input", { type: "checkbox", "aria-label": `tick run ${shortId(r.run_id)}`, "data-tick": r.run_id });
        tick.checked = ticked.has(r.run_id);
        tick.addEventListener("change", () => {
          if (tick.checked) ticked.add(r.run_id);
          else ticked.delete(r.run_id);
          render();
        });
        return h(
          "tr",
          { "data-run-id": r.run_id, "data-status": r.status, ...(tick.checked ? { "data-ticked": "" } : {}) },
          h("td", { class: "dg-tick" }, tick),
          h(
            "td",
            {},
            link(shortId(r.run_id), () => ctx.navigate("run", { run_id: r.run_id, thread_id: r.thread_id }), { title: r.run_id, "data-open-run": r.run_id }),
            r.forked_from
              ? h(
                  "div",
                  { class: "dg-muted dg-fork-of", "data-dg-fork-of": r.forked_from.run_id },
                  "fork of ",
                  link(`${shortId(r.forked_from.run_id)} #${r.forked_from.seq}`, () => ctx.navigate("run", { run_id: r.forked_from!.run_id, seq: String(r.forked_from!.seq) }), { title: `forked from run ${r.forked_from.run_id} after event #${r.forked_from.seq}` }),
                )
              : "",
          ),
          h("td", {}, link(shortId(r.thread_id), () => ctx.navigate("threads", { thread_id: r.thread_id }), { title: r.thread_id })),
          h("td", {}, names.get(r.assistant_id) ?? r.graph_id ?? shortId(r.assistant_id)),
          h(
            "td",
            {},
            badge(r.status),
            r.waiting_for ? h("div", { class: "dg-waiting-hint", "data-dg-waiting": r.waiting_for.reason, title: r.waiting_for.message }, r.waiting_for.reason === "no_worker" ? "no worker serves this graph" : r.waiting_for.message) : "",
          ),
          h("td", {}, formatWhen(r.started_at ?? r.created_at)),
          h("td", { class: "dg-num" }, formatDuration(runDuration(r))),
          h("td", { class: "dg-num", "data-dg-tokens": "" }, formatTokens(r.usage)),
          h("td", {}, cancel),
        );
      }),
    );
  }

  async function cancelRun(r: Run): Promise<void> {
    try {
      await ctx.api.post(`threads/${r.thread_id}/runs/${r.run_id}/cancel`, {});
      notice.show(`cancel requested for run ${shortId(r.run_id)}`, "info");
      await refresh();
    } catch (err) {
      notice.show(`could not cancel run ${shortId(r.run_id)}: ${errorText(err)}`);
    }
  }

  async function refresh(): Promise<void> {
    runs = await recentRuns(ctx.api, 500);
    if (ctx.disposed) return;
    if (notice.element.dataset.dgMessage === "error") notice.clear();
    render();
  }

  /** The inline "Save as dataset" form: a name, a description, what will be saved, and the
   * answer (the dataset's link, or why not: a name clash offers "add as new version"). */
  function saveForm(): { element: HTMLElement; update(): void } {
    const what = h("span", { class: "dg-muted", "data-dg-save-source": "" });
    const name = h("input", { type: "text", class: "dg-input", placeholder: "dataset name", "aria-label": "dataset name", "data-dg-dataset-name": "", maxlength: "200" });
    const description = h("input", { type: "text", class: "dg-input dg-input-wide", placeholder: "description (optional)", "aria-label": "dataset description", "data-dg-dataset-description": "" });
    const message = new Notice();
    message.element.setAttribute("data-dg-save-message", "");
    // What is odd about the runs to save, and what to do about it.
    const skipNoInput = h("input", { type: "checkbox", "data-dg-skip-no-input": "" });
    skipNoInput.checked = true;
    const noInputText = h("span", {});
    const noInputRow = h("label", { class: "dg-save-warning", "data-dg-warning": "no_input", hidden: "" }, skipNoInput, noInputText);
    const keepAssistant = h("select", { class: "dg-select", "aria-label": "keep the runs of", "data-dg-keep-assistant": "" });
    const assistantsText = h("span", {});
    const assistantsRow = h("div", { class: "dg-save-warning", "data-dg-warning": "several_assistants", hidden: "" }, assistantsText, " Keep the runs of ", keepAssistant);
    const chosen = () => narrowSource(source(), covered(), skipNoInput.checked, keepAssistant.value, (id) => names.get(id) ?? id);
    for (const el of [skipNoInput, keepAssistant]) el.addEventListener("change", () => update());
    const answer = h("span", { class: "dg-toolbar" });
    const submit = button("Save", () => void save(false), { class: "dg-button dg-primary", "data-action": "save-dataset-submit" });
    const close = button("Close", () => (element.hidden = true), { "data-action": "save-dataset-close" });
    const element = h(
      "div",
      { class: "dg-form", "data-dg-save-dataset": "", hidden: "", role: "group", "aria-label": "save as dataset" },
      h("div", { class: "dg-toolbar" }, h("strong", {}, "Save as dataset:"), what),
      noInputRow,
      assistantsRow,
      h("div", { class: "dg-toolbar" }, name, description, submit, close),
      h("div", { class: "dg-toolbar" }, message.element, answer),
    );
    name.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter") void save(false);
    });
    let busy = false;
    async function save(newVersion: boolean): Promise<void> {
      if (busy) return;
      const problem = nameProblem(name.value);
      answer.replaceChildren();
      message.element.removeAttribute("data-dg-clash");
      if (problem) {
        message.show(problem);
        name.focus();
        return;
      }
      const src = chosen();
      busy = true;
      submit.disabled = true;
      message.show(newVersion ? "adding a version…" : "saving…", "info");
      try {
        const ds = await ctx.api.post<Dataset & { warnings?: { code: string; message: string }[] }>("datasets", saveDatasetBody(name.value, description.value, src, newVersion));
        if (ctx.disposed) return;
        const warned = (ds.warnings ?? []).map((w) => w.message).join("; ");
        message.show(`saved ${ds.name} version ${ds.version}: ${plural(ds.example_count, "example")}${warned ? ` — note: ${warned}` : ""}`, warned ? "warning" : "info");
        answer.replaceChildren(link(`Open dataset ${ds.name} →`, () => ctx.navigate("datasets", { dataset: ds.name }), { "data-open-dataset": ds.name }));
      } catch (err) {
        if (ctx.disposed) return;
        const failure = saveFailure(err, name.value);
        message.show(failure.message);
        message.element.toggleAttribute("data-dg-clash", failure.clash);
        if (failure.clash) answer.replaceChildren(button("Add as new version", () => void save(true), { "data-action": "save-dataset-version" }));
      } finally {
        busy = false;
        submit.disabled = false;
      }
    }
    function update(): void {
      if (element.hidden) return;
      const runsToSave = covered();
      const { noInput, assistants } = selectionWarnings(runsToSave);
      noInputRow.hidden = noInput.length === 0;
      noInputText.textContent = ` Leave out the ${plural(noInput.length, "run")} with no input (of ${runsToSave.length}: forks start from another run's state, so an experiment would run the assistant on nothing)`;
      assistantsRow.hidden = assistants.length < 2;
      if (assistants.length >= 2) {
        const keep = keepAssistant.value;
        assistantsText.textContent = `These runs are of ${assistants.length} assistants (${assistants.map((a) => names.get(a) ?? shortId(a)).join(", ")}): an experiment runs every example against one.`;
        keepAssistant.replaceChildren(h("option", { value: "" }, "every assistant"), ...assistants.map((a) => h("option", { value: a }, names.get(a) ?? shortId(a))));
        keepAssistant.value = assistants.includes(keep) ? keep : "";
      } else keepAssistant.value = "";
      const src = chosen();
      what.textContent = `${src.describe}${ticked.size ? "" : " — or tick the runs to save"}`;
    }
    return { element, update };
  }

  function openForm(): void {
    form.element.hidden = false;
    form.update();
    form.element.querySelector<HTMLInputElement>("[data-dg-dataset-name]")?.focus();
  }

  tickAll.addEventListener("change", () => {
    for (const r of shown) {
      if (tickAll.checked) ticked.add(r.run_id);
      else ticked.delete(r.run_id);
    }
    render();
  });
  for (const el of [status, assistant, minD, maxD]) el.addEventListener("input", render);
  void ctx.api
    .post<Assistant[]>("assistants/search", { limit: 200 })
    .then((list) => {
      for (const a of list) {
        names.set(a.assistant_id, a.name || a.graph_id);
        assistant.append(h("option", { value: a.assistant_id }, a.name || a.graph_id));
      }
      if (ctx.params.assistant) assistant.value = ctx.params.assistant;
      render();
    })
    .catch((err) => notice.show(`could not list assistants: ${errorText(err)}`));
  poll(ctx, 2000, refresh, (err) => notice.show(`could not load runs: ${errorText(err)}`));
}
