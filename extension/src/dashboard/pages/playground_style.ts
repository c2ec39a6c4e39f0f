// The Playground's own styles (the schema-built input, tool-call cards, the state card, replay),
// in the dashboard's palette (widgets.css variables, so light, dark and JupyterLab themes
// follow). Added to the document once by the pages that use them (the Threads page shows tool
// cards too), so both hosts get them with the pages' code.
export const PLAYGROUND_CSS = `
.dg-input-editor { border: 1px solid var(--dg-border); border-radius: 6px; padding: 8px 10px; display: flex; flex-direction: column; gap: 8px; background: var(--dg-bg-alt); }
.dg-input-head { display: flex; align-items: center; gap: 4px; }
.dg-input-title { font-weight: 600; margin-right: 8px; }
.dg-input-head .dg-button[data-input-mode] { padding: 2px 10px; }
.dg-input-head .dg-button.dg-active { background: var(--dg-bg); border-color: var(--dg-accent); box-shadow: inset 0 -2px 0 var(--dg-accent); font-weight: 600; }
.dg-spacer { flex: 1; }
.dg-input-form { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 6px 12px; align-items: start; }
.dg-field-label { padding-top: 4px; font-family: var(--dg-mono); font-size: 12px; }
.dg-required { color: var(--dg-failed); }
.dg-field { display: flex; flex-wrap: wrap; align-items: center; gap: 2px 8px; }
.dg-field .dg-input { flex: 1 1 16em; min-width: 8em; max-width: 32em; background: var(--dg-bg); }
.dg-field textarea.dg-input { resize: vertical; }
.dg-field-hint { color: var(--dg-fg-muted); font-size: 0.85em; }
.dg-field-error, .dg-json-errors { color: var(--dg-failed); font-size: 0.9em; flex-basis: 100%; }
.dg-json-errors { margin: 4px 0 0; padding-left: 1.4em; }
.dg-json-input { width: 100%; font-family: var(--dg-mono); font-size: 12px; resize: vertical; background: var(--dg-bg); }
.dg-input[aria-invalid="true"], .dg-select[aria-invalid="true"] { border-color: var(--dg-failed); outline: 1px solid var(--dg-failed); }
.dg-more-input > summary { cursor: pointer; color: var(--dg-fg-muted); padding: 2px 0; }
.dg-more-input[open] > summary { margin-bottom: 6px; }
.dg-msg-calls { display: flex; flex-direction: column; gap: 6px; }
.dg-tool-card { border: 1px solid var(--dg-border); border-left: 4px solid var(--dg-accent); border-radius: 4px; background: var(--dg-bg); padding: 6px 10px; white-space: normal; font-size: 0.95em; min-width: 16em; }
.dg-tool-card.dg-tool-failed { border-left-color: var(--dg-failed); }
.dg-tool-head { display: flex; align-items: center; gap: 6px; margin-bottom: 4px; }
.dg-tool-badge { font-size: 0.7em; text-transform: uppercase; letter-spacing: 0.05em; padding: 0 6px; border-radius: 8px; background: var(--dg-accent); color: #fff; }
.dg-tool-name { font-family: var(--dg-mono); font-weight: 600; }
.dg-tool-args { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 2px 10px; margin: 0 0 4px; font-family: var(--dg-mono); font-size: 12px; }
.dg-tool-args dt { color: var(--dg-fg-muted); }
.dg-tool-args dd { margin: 0; word-break: break-word; }
.dg-tool-result { display: flex; gap: 10px; align-items: baseline; border-top: 1px dashed var(--dg-border); padding-top: 4px; font-family: var(--dg-mono); font-size: 12px; }
.dg-tool-label { color: var(--dg-fg-muted); }
.dg-tool-output { font-weight: 600; white-space: pre-wrap; word-break: break-word; }
.dg-tool-failed .dg-tool-output { color: var(--dg-failed); }
.dg-msg-input .dg-json { margin: 0; font-size: 12px; white-space: pre-wrap; }
.dg-state-card { border: 1px solid var(--dg-border); border-radius: 8px; padding: 6px 10px; background: var(--dg-bg-alt); max-width: 85%; }
.dg-state-rows { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 2px 12px; margin: 2px 0 0; font-size: 0.95em; }
.dg-state-rows dt { font-family: var(--dg-mono); font-size: 12px; color: var(--dg-fg-muted); padding-top: 1px; }
.dg-state-rows dd { margin: 0; white-space: pre-wrap; word-break: break-word; }
[data-dg-input-kind="schema"] .dg-transcript { min-height: 0; }
.dg-side-head { display: flex; align-items: center; gap: 8px; flex-wrap: wrap; }
.dg-side-head .dg-section-title { margin-right: auto; }
.dg-replay-step { font-size: 0.85em; flex-basis: 100%; min-height: 1.2em; }
[data-dg-replaying] .dg-graph-box { outline: 2px dashed var(--dg-accent); outline-offset: 2px; border-radius: 4px; }
`;

const STYLE_ID = "dg-playground-style";

/** Add the styles to the element's document, once. */
export function ensurePlaygroundStyles(el: HTMLElement): void {
  const doc = el.ownerDocument;
  if (doc.getElementById(STYLE_ID)) return;
  const style = doc.createElement("style");
  style.id = STYLE_ID;
  style.textContent = PLAYGROUND_CSS;
  doc.head.append(style);
}
