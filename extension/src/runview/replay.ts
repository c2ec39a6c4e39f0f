// The replay section, one for every host (the dashboard's Run view, the notebook's RunView and
// ReplaySlider widgets): the slider over the run's events, the state right after the selected
// event and the change it made (at a node's completion: the state after that node, and its
// update), and "Fork from here", which opens a dialog where the state can be edited before the
// fork runs. Hosts move the slider (setPosition) and say what the state there is (setState).
import { diffJson, renderDiff, renderJson } from "../renderers/diff";
import { h } from "../renderers/dom";
import type { EventRow } from "../renderers/events";
import { drawnNodeId } from "../renderers/timeline";

/** Where a state shown comes from: GET /runs/{id}/state (an event) or a checkpoint. */
export interface StateOrigin {
  seq: number;
  type?: string;
  node?: string | null;
  step?: number | null;
  previous_seq?: number | null;
  /** "event" (the default): the state right after event `seq`; "checkpoint": the nearest
   * checkpoint at or before it (hosts with no server to ask). */
  source?: "event" | "checkpoint";
}

/** What the replay label says about an event. */
export function describeEvent(row: EventRow, index: number, count: number): string {
  const node = row.node ? ` · ${drawnNodeId(row.ns, row.node)}` : "";
  const step = row.step !== null ? ` · step ${row.step}` : "";
  return `#${row.seq} ${row.type}${node}${step} (${index + 1}/${count})`;
}

/** The caption over the state panes and the change pane's title, for a state's origin. */
export function stateCaption(at: StateOrigin | null): { caption: string; changeTitle: string } {
  if (!at) return { caption: "", changeTitle: "Change made by this event" };
  if (at.source === "checkpoint") {
    return { caption: `checkpoint at #${at.seq}${at.step !== null && at.step !== undefined ? ` (step ${at.step})` : ""}`, changeTitle: "Change from the checkpoint before" };
  }
  const node = at.node ? ` · ${at.node}` : "";
  const since = at.previous_seq ? `since #${at.previous_seq}` : "since the state the run started from";
  if (at.type === "node_completed" && at.node) {
    return { caption: `state after #${at.seq} ${at.type}${node}: ${at.node}'s update applied (change ${since})`, changeTitle: `Change made by ${at.node}` };
  }
  return { caption: `state after #${at.seq} ${at.type ?? "event"}${node} (change ${since})`, changeTitle: "Change made by this event" };
}

/** A fork dialog's text, read: the update to send (the top-level keys that differ from the
 * state), or why it cannot be sent. */
export function forkEdit(original: unknown, text: string): { ok: true; update: Record<string, unknown> | null; changed: string[] } | { ok: false; problem: string } {
  let edited: unknown;
  try {
    edited = JSON.parse(text);
  } catch (err) {
    return { ok: false, problem: `not valid JSON: ${err instanceof Error ? err.message : String(err)}` };
  }
  if (typeof edited !== "object" || edited === null || Array.isArray(edited)) return { ok: false, problem: "the state is a JSON object: { \"key\": value, … }" };
  const before = (typeof original === "object" && original !== null ? original : {}) as Record<string, unknown>;
  const after = edited as Record<string, unknown>;
  const removed = Object.keys(before).filter((k) => !(k in after));
  if (removed.length) return { ok: false, problem: `a fork cannot remove state keys (${removed.join(", ")}): give them a value` };
  const changed = Object.keys(after).filter((k) => diffJson(before[k], after[k]).length > 0);
  if (!changed.length) return { ok: true, update: null, changed };
  return { ok: true, update: Object.fromEntries(changed.map((k) => [k, after[k]])), changed };
}

export interface ReplayOptions {
  /** The slider moved to position `index` (`dragging`: more positions follow at once). */
  onInput: (index: number, dragging: boolean) => void;
  /** "Fork" in the fork dialog: after event `seq`, with the edited keys (null: no edit).
   * Resolve with nothing when the fork was made, or with why not (shown in the dialog). */
  onFork?: (seq: number, update: Record<string, unknown> | null) => Promise<string | void> | void;
}

export interface ReplayHandle {
  readonly element: HTMLElement;
  readonly slider: HTMLInputElement;
  /** The number of events (the slider's range). */
  setCount(count: number): void;
  /** Show position `index` (its row, for the label). */
  setPosition(index: number, row: EventRow | undefined, count: number): void;
  /** The state right after the selected event and right before it, and where it comes from. */
  setState(values: unknown, previous: unknown, at?: StateOrigin | null, caption?: string): void;
  setNote(text: string): void;
  /** Open the fork dialog at the selected event (as the button does). */
  openFork(): void;
}

export function mountReplay(options: ReplayOptions): ReplayHandle {
  let row: EventRow | undefined;
  let index = -1;
  let total = 0;
  let shown: { values: unknown; seq: number | null } = { values: {}, seq: null };

  const slider = h("input", { type: "range", min: "0", max: "0", value: "0", class: "dg-replay-range", "aria-label": "replay position", "data-dg-replay": "" });
  slider.disabled = true;
  const label = h("span", { class: "dg-replay-label", "data-dg-replay-label": "" }, "no events");
  const forkButton = h("button", { type: "button", class: "dg-button dg-fork", "data-action": "fork", title: "branch a new run from the state after this event (you can edit it first)" }, "Fork from here…");
  forkButton.hidden = !options.onFork;
  const note = h("span", { class: "dg-replay-note", "data-dg-replay-note": "" });
  const caption = h("div", { class: "dg-replay-caption dg-muted", "data-dg-replay-caption": "" });
  const stateBox = h("div", { class: "dg-replay-state", "data-dg-state": "" });
  const diffBox = h("div", { class: "dg-replay-diff", "data-dg-diff": "" });
  const changeTitle = h("div", { class: "dg-pane-title", "data-dg-change-title": "" }, "Change made by this event");

  // The fork dialog: the state after the event, editable; only the keys changed are sent.
  const forkTitle = h("div", { class: "dg-pane-title", "data-dg-fork-title": "" });
  const editor = h("textarea", { class: "dg-fork-editor", rows: "10", spellcheck: "false", "aria-label": "state of the fork (JSON)", "data-dg-fork-state": "" });
  const problem = h("div", { class: "dg-fork-problem", "data-dg-fork-problem": "", role: "alert" });
  const summary = h("div", { class: "dg-muted", "data-dg-fork-summary": "" });
  const confirm = h("button", { type: "button", class: "dg-button dg-primary", "data-action": "fork-confirm" }, "Fork");
  const cancel = h("button", { type: "button", class: "dg-button", "data-action": "fork-cancel" }, "Cancel");
  const dialog = h(
    "div",
    { class: "dg-fork-dialog", role: "dialog", "aria-label": "fork from here", "data-dg-fork-dialog": "", hidden: "" },
    forkTitle,
    h(
      "div",
      { class: "dg-muted dg-fork-help" },
      "The new run continues on the same thread from the state after this event. Edit the state first if you like: the keys you change are written as an update, through the state's reducers (as update_state does — a list with an appending reducer gets your value appended).",
    ),
    editor,
    problem,
    h("div", { class: "dg-replay-bar" }, confirm, cancel, summary),
  );
  let forkSeq: number | null = null;
  let forkBase: unknown = {};
  let edited = false;
  let busy = false;

  const element = h(
    "div",
    { class: "dg-replay" },
    h("div", { class: "dg-replay-bar" }, slider, label, forkButton, note),
    dialog,
    caption,
    h(
      "div",
      { class: "dg-replay-panes" },
      h("div", { class: "dg-pane" }, h("div", { class: "dg-pane-title" }, "State after this event"), stateBox),
      h("div", { class: "dg-pane" }, changeTitle, diffBox),
    ),
  );

  function check(): ReturnType<typeof forkEdit> {
    const read = forkEdit(forkBase, editor.value);
    problem.textContent = read.ok ? "" : read.problem;
    editor.setAttribute("aria-invalid", String(!read.ok));
    confirm.disabled = !read.ok || busy;
    summary.textContent = read.ok ? (read.changed.length ? `changes: ${read.changed.join(", ")}` : "no change: the fork starts from the state as it was") : "";
    return read;
  }

  function fillEditor(): void {
    forkBase = shown.values ?? {};
    editor.value = JSON.stringify(forkBase, null, 2);
    edited = false;
    check();
  }

  function openFork(): void {
    if (!row || !options.onFork) return;
    forkSeq = row.seq;
    forkTitle.textContent = `Fork after #${row.seq} ${row.type}${row.node ? ` · ${drawnNodeId(row.ns, row.node)}` : ""} (event ${index + 1} of ${total})`;
    dialog.hidden = false;
    busy = false;
    fillEditor();
    editor.focus();
  }

  forkButton.addEventListener("click", openFork);
  cancel.addEventListener("click", () => {
    dialog.hidden = true;
    forkSeq = null;
  });
  editor.addEventListener("input", () => {
    edited = true;
    check();
  });
  confirm.addEventListener("click", () => {
    const read = check();
    if (!read.ok || forkSeq === null || busy || !options.onFork) return;
    busy = true;
    confirm.disabled = true;
    summary.textContent = "forking…";
    void Promise.resolve(options.onFork(forkSeq, read.update))
      .then((failure) => {
        busy = false;
        if (failure) {
          problem.textContent = failure;
          confirm.disabled = false;
        } else {
          dialog.hidden = true;
          forkSeq = null;
        }
      })
      .catch((err: unknown) => {
        busy = false;
        problem.textContent = err instanceof Error ? err.message : String(err);
        confirm.disabled = false;
      });
  });

  slider.addEventListener("input", () => options.onInput(Number(slider.value), true));
  slider.addEventListener("change", () => options.onInput(Number(slider.value), false));

  return {
    element,
    slider,
    setCount(n) {
      slider.max = String(Math.max(0, n - 1));
      slider.disabled = n === 0;
      if (!n) label.textContent = "no events";
    },
    setPosition(i, r, n) {
      index = i;
      total = n;
      row = r;
      slider.value = String(Math.max(0, i));
      label.textContent = r ? describeEvent(r, i, n) : "no events";
      forkButton.disabled = !r;
    },
    setState(values, previous, at, text) {
      const words = stateCaption(at ?? null);
      caption.textContent = text ?? words.caption;
      changeTitle.textContent = words.changeTitle;
      renderJson(stateBox, values ?? {});
      renderDiff(diffBox, diffJson(previous ?? {}, values ?? {}));
      shown = { values: values ?? {}, seq: at?.seq ?? null };
      // The dialog opened before the state of its event arrived: show that state (unless edited).
      if (!dialog.hidden && !edited && forkSeq !== null && shown.seq === forkSeq) fillEditor();
    },
    setNote(text) {
      note.textContent = text;
    },
    openFork,
  };
}
