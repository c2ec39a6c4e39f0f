// The Playground's input for a graph that is not (only) a chat: a form built from the graph's
// input schema when it is simple, or a JSON editor checked against the schema. Problems are shown
// next to the field (or under the editor) and nothing is sent while there are any.
import {
  fieldText,
  fieldValue,
  parseErrorText,
  simpleFields,
  template,
  validateInput,
  type Field,
  type InputError,
  type JsonSchema,
} from "../schema_input";
import { button, h } from "../ui";

export interface InputEditor {
  element: HTMLElement;
  /** The input, or null when it has problems (then shown). */
  read(): Record<string, unknown> | null;
  /** Show a value (a thread's last input, say) in the editor. */
  show(value: Record<string, unknown>): void;
  setBusy(busy: boolean): void;
}

type Mode = "form" | "json";

/** An editor for `schema`; `submit` gets a valid input. `chat`: the graph also has a chat box, so
 * this editor is for the other keys and starts folded. */
export function inputEditor(schema: JsonSchema | null, submit: (input: Record<string, unknown>) => void, chat = false): InputEditor {
  const fields = simpleFields(schema);
  let mode: Mode = fields ? "form" : "json";
  const controls = new Map<string, HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement>();
  const fieldErrors = new Map<string, HTMLElement>();

  const form = h("div", { class: "dg-input-form", "data-dg-input-form": "" });
  for (const f of fields ?? []) {
    const control = controlFor(f);
    const error = h("div", { class: "dg-field-error", "data-dg-field-error": f.key, role: "alert", hidden: "" });
    controls.set(f.key, control);
    fieldErrors.set(f.key, error);
    control.addEventListener("input", () => {
      error.hidden = true;
      control.removeAttribute("aria-invalid");
    });
    const hint = h("span", { class: "dg-field-hint" }, hintFor(f));
    form.append(
      h("label", { class: "dg-field-label", for: `dg-field-${f.key}` }, f.label, f.required ? h("span", { class: "dg-required", title: "required" }, " *") : ""),
      h("div", { class: "dg-field" }, control, hint, error),
    );
  }

  const json = h("textarea", { class: "dg-input dg-json-input", rows: "6", spellcheck: "false", "aria-label": "input JSON", "data-dg-json-input": "" });
  json.value = JSON.stringify(template(schema), null, 2);
  const jsonErrors = h("ul", { class: "dg-json-errors", "data-dg-json-errors": "", role: "alert", hidden: "" });
  json.addEventListener("input", () => {
    jsonErrors.hidden = true;
    json.removeAttribute("aria-invalid");
  });
  json.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      run();
    }
  });
  const jsonBox = h("div", { class: "dg-json-box" }, json, jsonErrors);

  const formTab = button("Form", () => setMode("form"), { "data-input-mode": "form", role: "tab" });
  const jsonTab = button("JSON", () => setMode("json"), { "data-input-mode": "json", role: "tab" });
  if (!fields) formTab.disabled = true;
  formTab.title = fields ? "a form built from the graph's input schema" : "the input schema has keys a form cannot edit: use JSON";
  const runButton = button("Run", () => run(), { "data-action": "run-input", class: "dg-button dg-primary" });
  const title = h("span", { class: "dg-input-title" }, chat ? "Other input keys" : `Input${schema?.title ? ` · ${schema.title}` : ""}`);
  const head = h("div", { class: "dg-input-head", role: "tablist" }, title, formTab, jsonTab, h("span", { class: "dg-spacer" }), runButton);
  const element = h("div", { class: "dg-input-editor", "data-dg-input-editor": "", "data-mode": mode }, head, form, jsonBox);
  setMode(mode);

  function setMode(next: Mode): void {
    if (next === "form" && !fields) return;
    if (next !== mode) {
      // Carry the value over, so switching never loses what was typed.
      if (next === "json") {
        const value = formValue(false);
        if (value) json.value = JSON.stringify(value, null, 2);
      } else {
        try {
          const value = JSON.parse(json.value) as unknown;
          if (value && typeof value === "object" && !Array.isArray(value)) fillForm(value as Record<string, unknown>);
        } catch {
          // the form keeps its own values
        }
      }
    }
    mode = next;
    element.dataset.mode = mode;
    form.hidden = mode !== "form";
    jsonBox.hidden = mode !== "json";
    formTab.classList.toggle("dg-active", mode === "form");
    jsonTab.classList.toggle("dg-active", mode === "json");
    formTab.setAttribute("aria-selected", String(mode === "form"));
    jsonTab.setAttribute("aria-selected", String(mode === "json"));
  }

  function fillForm(value: Record<string, unknown>): void {
    for (const f of fields ?? []) {
      const c = controls.get(f.key);
      if (c) c.value = fieldText(f, value[f.key]);
    }
  }

  /** The form's value; with `report`, its problems are shown (null when there are any). */
  function formValue(report: boolean): Record<string, unknown> | null {
    const out: Record<string, unknown> = {};
    let ok = true;
    for (const f of fields ?? []) {
      const c = controls.get(f.key)!;
      const got = fieldValue(f, c.value);
      if (got.error) {
        ok = false;
        if (report) showFieldError(f.key, got.error);
      } else if (got.value !== undefined) out[f.key] = got.value;
    }
    if (!ok) return null;
    const errors = validateInput(out, schema);
    if (errors.length) {
      if (report) for (const e of errors) showFieldError(e.path.split("/")[1] ?? "", e.message);
      return null;
    }
    return out;
  }

  function showFieldError(key: string, message: string): void {
    const box = fieldErrors.get(key);
    if (!box) return;
    box.textContent = message;
    box.hidden = false;
    controls.get(key)?.setAttribute("aria-invalid", "true");
  }

  function showJsonErrors(errors: InputError[]): void {
    jsonErrors.replaceChildren(...errors.map((e) => h("li", { "data-path": e.path }, e.path ? `${e.path.slice(1).replace(/\//g, ".")}: ${e.message}` : e.message)));
    jsonErrors.hidden = false;
    json.setAttribute("aria-invalid", "true");
  }

  function read(): Record<string, unknown> | null {
    if (mode === "form") return formValue(true);
    let value: unknown;
    try {
      value = JSON.parse(json.value || "{}");
    } catch (err) {
      showJsonErrors([{ path: "", message: parseErrorText(json.value, err) }]);
      return null;
    }
    const errors = validateInput(value, schema);
    if (errors.length) {
      showJsonErrors(errors);
      return null;
    }
    return value as Record<string, unknown>;
  }

  function run(): void {
    const value = read();
    if (value) submit(value);
  }

  return {
    element,
    read,
    show(value) {
      json.value = JSON.stringify(value, null, 2);
      fillForm(value);
    },
    setBusy(busy) {
      runButton.disabled = busy;
    },
  };
}

function hintFor(f: Field): string {
  switch (f.kind) {
    case "strings":
      return "list of strings: one per line";
    case "enum":
      return "";
    case "boolean":
      return "";
    default:
      return f.kind;
  }
}

function controlFor(f: Field): HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement {
  const common = { id: `dg-field-${f.key}`, "data-dg-field": f.key, "aria-label": f.key };
  if (f.kind === "boolean" || f.kind === "enum") {
    const values = f.kind === "boolean" ? ["true", "false"] : (f.options ?? []).map(String);
    const select = h("select", { class: "dg-select", ...common }, h("option", { value: "" }, "— not set —"), ...values.map((v) => h("option", { value: v }, v)));
    if (f.default !== undefined) select.value = String(f.default);
    return select;
  }
  if (f.kind === "strings") {
    const area = h("textarea", { class: "dg-input", rows: "2", ...common, placeholder: "one per line" });
    if (Array.isArray(f.default)) area.value = f.default.map(String).join("\n");
    return area;
  }
  const input = h("input", { class: "dg-input", type: "text", ...common, ...(f.kind !== "string" ? { inputmode: "decimal" } : {}) });
  if (f.default !== undefined && f.default !== null) input.value = String(f.default);
  if (f.description) input.title = f.description;
  return input;
}
