// The difference between two JSON values (a run's state at two events), as a flat list of
// changes by path, and its rendering.
import { clear, html, preview } from "./dom";

export type ChangeOp = "add" | "remove" | "change";

export interface Change {
  /** keys and indexes from the root; [] is the value itself */
  path: (string | number)[];
  op: ChangeOp;
  before?: unknown;
  after?: unknown;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== "object") {
    return Number.isNaN(a) && Number.isNaN(b);
  }
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((v, i) => same(v, bb[i]));
  }
  const ka = Object.keys(a as object);
  const kb = Object.keys(b as object);
  if (ka.length !== kb.length) return false;
  const ob = b as Record<string, unknown>;
  return ka.every((k) => Object.prototype.hasOwnProperty.call(ob, k) && same((a as Record<string, unknown>)[k], ob[k]));
}

/** Changes that turn ``before`` into ``after``: objects are compared key by key (sorted),
 * arrays index by index (so appended messages are "add"s at the end), anything else as a
 * whole. Equal values give []. */
export function diffJson(before: unknown, after: unknown, path: (string | number)[] = []): Change[] {
  if (same(before, after)) return [];
  if (isObject(before) && isObject(after)) {
    const keys = Array.from(new Set([...Object.keys(before), ...Object.keys(after)])).sort();
    const out: Change[] = [];
    for (const k of keys) {
      const inA = Object.prototype.hasOwnProperty.call(before, k);
      const inB = Object.prototype.hasOwnProperty.call(after, k);
      if (inA && !inB) out.push({ path: [...path, k], op: "remove", before: before[k] });
      else if (!inA && inB) out.push({ path: [...path, k], op: "add", after: after[k] });
      else out.push(...diffJson(before[k], after[k], [...path, k]));
    }
    return out;
  }
  if (Array.isArray(before) && Array.isArray(after)) {
    const out: Change[] = [];
    const n = Math.max(before.length, after.length);
    for (let i = 0; i < n; i++) {
      if (i >= after.length) out.push({ path: [...path, i], op: "remove", before: before[i] });
      else if (i >= before.length) out.push({ path: [...path, i], op: "add", after: after[i] });
      else out.push(...diffJson(before[i], after[i], [...path, i]));
    }
    return out;
  }
  return [{ path, op: "change", before, after }];
}

/** ``messages[2].content`` style. */
export function formatPath(path: readonly (string | number)[]): string {
  if (path.length === 0) return "(root)";
  let out = "";
  for (const p of path) {
    if (typeof p === "number") out += `[${p}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(p)) out += out ? `.${p}` : p;
    else out += `[${JSON.stringify(p)}]`;
  }
  return out;
}

/** A table of changes (``+`` added, ``-`` removed, ``~`` changed). */
export function renderDiff(container: Element, changes: readonly Change[], max = 500): void {
  clear(container);
  if (changes.length === 0) {
    container.appendChild(html("div", { class: "dg-diff-empty" }, "no change"));
    return;
  }
  const table = html("table", { class: "dg-diff" });
  for (const c of changes.slice(0, max)) {
    const tr = html("tr", { class: `dg-diff-${c.op}` });
    tr.appendChild(html("td", { class: "dg-diff-op" }, c.op === "add" ? "+" : c.op === "remove" ? "−" : "~"));
    tr.appendChild(html("td", { class: "dg-diff-path" }, formatPath(c.path)));
    const td = html("td", { class: "dg-diff-value" });
    if (c.op !== "add") td.appendChild(html("pre", { class: "dg-diff-before" }, preview(c.before, 600)));
    if (c.op !== "remove") td.appendChild(html("pre", { class: "dg-diff-after" }, preview(c.after, 600)));
    tr.appendChild(td);
    table.appendChild(tr);
  }
  container.appendChild(table);
  if (changes.length > max) {
    container.appendChild(html("div", { class: "dg-diff-more" }, `… ${changes.length - max} more changes`));
  }
}

/** A JSON value, pretty-printed. */
export function renderJson(container: Element, value: unknown, max = 20000): void {
  clear(container);
  container.appendChild(html("pre", { class: "dg-json" }, preview(value, max)));
}
