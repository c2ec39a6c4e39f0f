// The evaluation pages' styles (Runs' "Save as dataset" form, Datasets, the comparison), in the
// dashboard's palette (widgets.css variables, so light, dark and JupyterLab themes follow). They
// are added to the document once, by the pages that use them, so that both hosts get them with
// the pages' code.
export const EVALS_CSS = `
.dg-form { border: 1px solid var(--dg-border); border-left: 4px solid var(--dg-accent); border-radius: 4px; padding: 6px 10px; display: flex; flex-direction: column; gap: 6px; background: var(--dg-bg-alt); }
.dg-form .dg-input { background: var(--dg-bg); }
.dg-input-wide { width: 24em; max-width: 100%; }
.dg-tick { width: 1.6em; text-align: center; }
.dg-tick input { margin: 0; cursor: pointer; accent-color: var(--dg-accent); }
tr[data-ticked] td { background: color-mix(in srgb, var(--dg-accent) 10%, var(--dg-bg)); }
.dg-clip { max-width: 22em; overflow: hidden; text-overflow: ellipsis; }
.dg-cell-json { font-family: var(--dg-mono); font-size: 12px; max-width: 26em; overflow: hidden; text-overflow: ellipsis; }
.dg-dataset-description { color: var(--dg-fg); margin-bottom: 2px; }
.dg-verdict { display: inline-block; padding: 0 8px; border-radius: 8px; font-size: 0.85em; font-weight: 600; color: #fff; background: var(--dg-fg-muted); }
.dg-verdict-regressed { background: var(--dg-failed); }
.dg-verdict-improved { background: var(--dg-done); }
.dg-verdict-unchanged { background: var(--dg-pending); color: var(--dg-fg); }
.dg-verdict-error { background: var(--dg-running); }
.dg-delta { font-variant-numeric: tabular-nums; font-weight: 600; }
.dg-delta-better { color: var(--dg-done); }
.dg-delta-worse { color: var(--dg-failed); }
.dg-delta-same, .dg-delta-none { color: var(--dg-fg-muted); font-weight: 400; }
.dg-score-change { white-space: nowrap; font-variant-numeric: tabular-nums; }
.dg-compare { display: flex; flex-direction: column; gap: 8px; }
.dg-compare-summary { display: flex; flex-direction: column; gap: 6px; }
.dg-mean { margin-right: 12px; }
tr.dg-row-regressed td:first-child { box-shadow: inset 3px 0 0 var(--dg-failed); }
tr.dg-row-improved td:first-child { box-shadow: inset 3px 0 0 var(--dg-done); }
tr.dg-row-error td:first-child { box-shadow: inset 3px 0 0 var(--dg-running); }
.dg-compare-detail { border: 1px solid var(--dg-bg-alt); border-radius: 4px; padding: 4px 8px; margin-top: 6px; display: block; }
.dg-compare-detail[data-verdict="regressed"] { border-left: 4px solid var(--dg-failed); }
.dg-compare-detail > summary { cursor: pointer; padding: 2px 0; }
.dg-compare-detail[open] > summary { margin-bottom: 6px; }
.dg-divergence { display: flex; flex-direction: column; gap: 4px; margin-bottom: 6px; }
.dg-node-name { font-family: var(--dg-mono); color: var(--dg-accent); }
.dg-diff-empty { color: var(--dg-fg-muted); font-style: italic; }
.dg-run-form { margin-bottom: 6px; }
.dg-field, .dg-param { display: inline-flex; align-items: center; gap: 4px; }
.dg-evaluators { border: 1px solid var(--dg-border); border-radius: 4px; padding: 4px 8px; margin: 0; display: flex; flex-direction: column; gap: 4px; }
.dg-evaluators > legend { color: var(--dg-fg-muted); padding: 0 4px; }
.dg-evaluator { display: flex; flex-wrap: wrap; align-items: center; gap: 4px 12px; }
.dg-evaluator-name { min-width: 11em; cursor: pointer; }
.dg-evaluator-name input { accent-color: var(--dg-accent); }
.dg-params { display: inline-flex; flex-wrap: wrap; gap: 4px 12px; }
.dg-params[data-off] { opacity: 0.5; }
.dg-form [aria-invalid="true"] { border-color: var(--dg-failed); outline: 1px solid var(--dg-failed); }
.dg-progress { display: inline-flex; align-items: center; gap: 6px; white-space: nowrap; }
.dg-progress-track { display: inline-block; width: 5em; height: 8px; border-radius: 4px; background: var(--dg-pending); overflow: hidden; }
.dg-progress-fill { display: block; height: 100%; background: var(--dg-done); transition: width 0.3s; }
@media (prefers-reduced-motion: reduce) { .dg-progress-fill { transition: none; } }
.dg-progress-running .dg-progress-fill { background: var(--dg-running); }
.dg-progress-label { font-variant-numeric: tabular-nums; font-size: 0.9em; color: var(--dg-fg-muted); }
.dg-progress-counts { font-variant-numeric: tabular-nums; font-size: 0.85em; }
.dg-count-passed { color: var(--dg-done); }
.dg-count-failed { color: var(--dg-failed); }
.dg-count-errors { color: var(--dg-running); }
.dg-row-actions { display: flex; flex-direction: column; align-items: flex-start; gap: 4px; }
.dg-compare-with { display: inline-flex; flex-wrap: wrap; gap: 4px; }
.dg-compare-with .dg-select { max-width: 10em; }
/* The experiments table fits a 1280 px screen (JupyterLab's main area beside its sidebar, ~1000
   px): long cells wrap instead of pushing the table wider than the page. */
table[data-dg-experiments] td { white-space: normal; vertical-align: top; overflow-wrap: anywhere; }
table[data-dg-experiments] .dg-progress, table[data-dg-experiments] .dg-pill { white-space: nowrap; }
table[data-dg-experiments] .dg-progress-track { width: 3.5em; }
`;

const STYLE_ID = "dg-evals-style";

/** Add the styles to the element's document, once. */
export function ensureEvalsStyles(el: HTMLElement): void {
  const doc = el.ownerDocument;
  if (doc.getElementById(STYLE_ID)) return;
  const style = doc.createElement("style");
  style.id = STYLE_ID;
  style.textContent = EVALS_CSS;
  doc.head.append(style);
}
