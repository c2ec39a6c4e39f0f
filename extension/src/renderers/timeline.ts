// Node executions over time, Gantt-like: one row per node, one bar per attempt (failed attempts
// red, retried ones hatched), run-level events as ticks on a top row; hover for the payload,
// click to select an event.
import { clear, preview, svg } from "./dom";
import type { NodeFailed } from "../event_types";
import { EventRow, parseData } from "./events";

export interface Span {
  key: string;
  node: string;
  ns: string;
  task: string | null;
  step: number | null;
  attempt: number;
  status: "ok" | "error";
  willRetry: boolean;
  /** epoch seconds */
  start: number;
  end: number;
  seq: number;
  event: EventRow;
}

const SPAN_TYPES = new Set(["node_completed", "node_failed"]);

/** The id the graph draws a node under: the node, or ``outer:inner`` inside a subgraph (as the
 * x-ray topology names it). ``ns`` is ``"<node>:<task>:<attempt>|"`` per level (the node-status
 * fold, runview/status.ts, names nodes by the same rule). */
export function drawnNodeId(ns: string | null | undefined, node: string): string {
  if (!ns) return node;
  const outer = ns
    .split("|")
    .filter(Boolean)
    .map((part) => part.split(":", 1)[0]);
  return [...outer, node].join(":");
}

/** One span per node execution attempt (node_completed and node_failed events). */
export function spansFromEvents(events: readonly EventRow[]): Span[] {
  const out: Span[] = [];
  for (const e of events) {
    if (!SPAN_TYPES.has(e.type) || !e.node) continue;
    const end = e.finished_at ?? e.recorded_at / 1000;
    const start = e.started_at ?? end - (e.duration_ms ?? 0) / 1000;
    let willRetry = false;
    if (e.type === "node_failed") {
      const data = parseData(e);
      willRetry = Boolean(data && typeof data === "object" && (data as Partial<NodeFailed>).will_retry);
    }
    const ns = e.ns ?? "";
    out.push({
      key: drawnNodeId(ns, e.node),
      node: e.node,
      ns,
      task: e.task,
      step: e.step,
      attempt: e.attempt ?? 1,
      status: e.type === "node_completed" ? "ok" : "error",
      willRetry,
      start,
      end: Math.max(end, start),
      seq: e.seq,
      event: e,
    });
  }
  return out;
}

export interface Scale {
  (value: number): number;
  invert(px: number): number;
  domain: [number, number];
  range: [number, number];
  ticks(count?: number): number[];
}

/** The step of about ``count`` ticks over ``span``: 1, 2 or 5 times a power of ten (the
 * nearest to span / count on a log scale). */
export function tickStep(span: number, count: number): number {
  if (!(span > 0) || count < 1) return 1;
  const raw = span / count;
  const power = Math.pow(10, Math.floor(Math.log10(raw)));
  const f = raw / power;
  const step = (f >= 7.07 ? 10 : f >= 3.16 ? 5 : f >= 1.41 ? 2 : 1) * power;
  return Number(step.toPrecision(12));
}

/** A linear scale from [d0, d1] to [r0, r1]; an empty domain maps everything to r0. */
export function linearScale(d0: number, d1: number, r0: number, r1: number): Scale {
  const span = d1 - d0;
  const f = ((v: number) => (span === 0 ? r0 : r0 + ((v - d0) / span) * (r1 - r0))) as Scale;
  f.invert = (px: number) => (r1 === r0 ? d0 : d0 + ((px - r0) / (r1 - r0)) * span);
  f.domain = [d0, d1];
  f.range = [r0, r1];
  f.ticks = (count = 5) => {
    if (span <= 0) return [d0];
    const step = tickStep(span, count);
    const first = Math.ceil(d0 / step) * step;
    const out: number[] = [];
    const decimals = Math.max(0, -Math.floor(Math.log10(step)) + 1);
    for (let i = 0; ; i++) {
      const t = Number((first + i * step).toFixed(decimals));
      if (t > d1 + step * 1e-9) break;
      out.push(t);
    }
    return out;
  };
  return f;
}

export interface TimelineBar {
  span: Span;
  x: number;
  w: number;
  y: number;
  cls: string;
}

export interface TimelineMark {
  event: EventRow;
  x: number;
}

export interface TimelineModel {
  rows: { key: string; label: string; y: number }[];
  bars: TimelineBar[];
  marks: TimelineMark[];
  /** seconds relative to t0 -> px */
  scale: Scale;
  t0: number;
  t1: number;
  width: number;
  height: number;
}

export const LABEL_W = 130;
export const ROW_H = 22;
export const AXIS_H = 20;
const MARK_TYPES = /^(run_|step_planned|subgraph_started|state_updated)/;

/** Where every bar and tick goes (pure: tested in Node). Rows follow ``nodeOrder`` (e.g. the
 * topology's), then first appearance. */
export function timelineModel(
  events: readonly EventRow[],
  width: number,
  nodeOrder: readonly string[] = [],
): TimelineModel {
  const spans = spansFromEvents(events);
  let t0 = Infinity;
  let t1 = -Infinity;
  for (const s of spans) {
    t0 = Math.min(t0, s.start);
    t1 = Math.max(t1, s.end);
  }
  const marks = events.filter((e) => MARK_TYPES.test(e.type));
  for (const e of marks) {
    t0 = Math.min(t0, e.recorded_at / 1000);
    t1 = Math.max(t1, e.recorded_at / 1000);
  }
  if (!Number.isFinite(t0)) {
    t0 = 0;
    t1 = 0;
  }
  const plotW = Math.max(50, width - LABEL_W - 10);
  const scale = linearScale(0, Math.max(t1 - t0, 1e-3), LABEL_W, LABEL_W + plotW);
  const keys: string[] = [];
  const seen = new Set<string>();
  const rank = new Map(nodeOrder.map((n, i) => [n, i]));
  for (const s of spans) {
    if (!seen.has(s.key)) {
      seen.add(s.key);
      keys.push(s.key);
    }
  }
  keys.sort((a, b) => (rank.get(a) ?? Infinity) - (rank.get(b) ?? Infinity));
  const rowY = new Map<string, number>();
  const rows = keys.map((key, i) => {
    const y = AXIS_H + ROW_H * (i + 1);
    rowY.set(key, y);
    return { key, label: key, y };
  });
  rows.unshift({ key: "__run__", label: "run", y: AXIS_H });
  const bars = spans.map((span) => {
    const x = scale(span.start - t0);
    const w = Math.max(2, scale(span.end - t0) - x);
    const cls = `dg-span dg-span-${span.status}${span.willRetry ? " dg-span-retried" : ""}${span.attempt > 1 ? " dg-span-retry" : ""}`;
    return { span, x, w, y: rowY.get(span.key) ?? AXIS_H, cls };
  });
  return {
    rows,
    bars,
    marks: marks.map((event) => ({ event, x: scale(event.recorded_at / 1000 - t0) })),
    scale,
    t0,
    t1,
    width: LABEL_W + plotW + 10,
    height: AXIS_H + ROW_H * rows.length + 4,
  };
}

export function formatSeconds(s: number): string {
  if (s === 0) return "0";
  if (Math.abs(s) < 1) return `${Math.round(s * 1000)}ms`;
  return `${Number(s.toFixed(2))}s`;
}

// -- large runs: an incremental index, and bars aggregated per pixel -------------------------------

/** What is drawn for a row: one bar per span, or one bar for several spans closer than a pixel
 * or two (a 10,000-event run in 600 px); ``count`` spans, the first one's seq. */
export interface AggregateBar {
  x: number;
  w: number;
  count: number;
  seq: number;
  cls: string;
}

/** Merge bars (sorted by ``x``) that overlap or lie less than ``gap`` px apart. Bars on their own
 * keep their span's classes; merged ones are ``dg-span-agg`` and red when any span failed. */
export function aggregateBars(bars: readonly TimelineBar[], gap = 2): AggregateBar[] {
  const out: AggregateBar[] = [];
  let cur: AggregateBar | null = null;
  let failed = false;
  let retried = false;
  const close = () => {
    if (cur && cur.count > 1) {
      cur.cls = `dg-span dg-span-agg dg-span-${failed ? "error" : "ok"}${retried ? " dg-span-retried" : ""}`;
    }
  };
  for (const bar of bars) {
    const end = bar.x + bar.w;
    if (cur && bar.x <= cur.x + cur.w + gap) {
      cur.w = Math.max(cur.w, end - cur.x);
      cur.count++;
      failed ||= bar.span.status === "error" && !bar.span.willRetry;
      retried ||= bar.span.willRetry;
      continue;
    }
    close();
    cur = { x: bar.x, w: bar.w, count: 1, seq: bar.span.seq, cls: bar.cls };
    failed = bar.span.status === "error" && !bar.span.willRetry;
    retried = bar.span.willRetry;
    out.push(cur);
  }
  close();
  return out;
}

interface IndexRow {
  key: string;
  first: number;
  spans: Span[];
  sorted: boolean;
}

/** The spans and run-level marks of a run, kept up to date incrementally: a feed whose log only
 * grew costs the new events, not the whole log (anything else: rebuilt). Pure, tested in Node. */
export class TimelineIndex {
  rows = new Map<string, IndexRow>();
  marks: EventRow[] = [];
  marksSorted = true;
  bySeq = new Map<number, Span | EventRow>();
  t0 = Infinity;
  t1 = -Infinity;
  private seen = 0;
  private lastSeq: number | null = null;
  private source: readonly EventRow[] | null = null;

  /** Bring the index up to ``events`` (the whole log); the number of events processed. */
  sync(events: readonly EventRow[]): number {
    const grew =
      this.source === events || (events.length >= this.seen && (this.seen === 0 || events[this.seen - 1]?.seq === this.lastSeq));
    if (!grew || events.length < this.seen) this.reset();
    this.source = events;
    const fresh = events.slice(this.seen);
    this.seen = events.length;
    this.lastSeq = events.length ? events[events.length - 1].seq : null;
    this.add(fresh);
    return fresh.length;
  }

  reset(): void {
    this.rows.clear();
    this.marks = [];
    this.marksSorted = true;
    this.bySeq.clear();
    this.t0 = Infinity;
    this.t1 = -Infinity;
    this.seen = 0;
    this.lastSeq = null;
  }

  private add(events: readonly EventRow[]): void {
    for (const span of spansFromEvents(events)) {
      let row = this.rows.get(span.key);
      if (!row) {
        row = { key: span.key, first: this.rows.size, spans: [], sorted: true };
        this.rows.set(span.key, row);
      }
      const last = row.spans[row.spans.length - 1];
      if (last && span.start < last.start) row.sorted = false;
      row.spans.push(span);
      this.bySeq.set(span.seq, span);
      this.t0 = Math.min(this.t0, span.start);
      this.t1 = Math.max(this.t1, span.end);
    }
    for (const e of events) {
      if (!MARK_TYPES.test(e.type)) continue;
      const t = e.recorded_at / 1000;
      const last = this.marks[this.marks.length - 1];
      if (last && e.recorded_at < last.recorded_at) this.marksSorted = false;
      this.marks.push(e);
      this.bySeq.set(e.seq, e);
      this.t0 = Math.min(this.t0, t);
      this.t1 = Math.max(this.t1, t);
    }
  }

  get spanCount(): number {
    let n = 0;
    for (const row of this.rows.values()) n += row.spans.length;
    return n;
  }

  /** Row keys in drawing order: ``nodeOrder`` first, then first appearance. */
  rowKeys(nodeOrder: readonly string[] = []): string[] {
    const rank = new Map(nodeOrder.map((n, i) => [n, i]));
    return [...this.rows.values()]
      .sort((a, b) => (rank.get(a.key) ?? Infinity) - (rank.get(b.key) ?? Infinity) || a.first - b.first)
      .map((r) => r.key);
  }

  spansOf(key: string): Span[] {
    const row = this.rows.get(key);
    if (!row) return [];
    if (!row.sorted) {
      row.spans.sort((a, b) => a.start - b.start || a.seq - b.seq);
      row.sorted = true;
    }
    return row.spans;
  }

  sortedMarks(): EventRow[] {
    if (!this.marksSorted) {
      this.marks.sort((a, b) => a.recorded_at - b.recorded_at || a.seq - b.seq);
      this.marksSorted = true;
    }
    return this.marks;
  }

  /** [t0, t1] in epoch seconds (0, 0 for an empty run). */
  extent(): [number, number] {
    return Number.isFinite(this.t0) ? [this.t0, this.t1] : [0, 0];
  }
}

function spanClass(span: Span): string {
  return `dg-span dg-span-${span.status}${span.willRetry ? " dg-span-retried" : ""}${span.attempt > 1 ? " dg-span-retry" : ""}`;
}

/** The span of a row under time ``t`` (epoch seconds), or the nearest one within ``tol``
 * seconds; ``spans`` sorted by start. Binary search: cheap for any run. */
export function spanAt(spans: readonly Span[], t: number, tol: number): Span | null {
  let lo = 0;
  let hi = spans.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (spans[mid].start <= t + tol) lo = mid + 1;
    else hi = mid;
  }
  let best: Span | null = null;
  let bestDist = Infinity;
  // Spans starting before t + tol; the covering or nearest one is among the last few.
  for (let i = lo - 1, n = 0; i >= 0 && n < 64; i--, n++) {
    const s = spans[i];
    const dist = t < s.start ? s.start - t : t > s.end ? t - s.end : 0;
    if (dist < bestDist || (dist === bestDist && best && s.start > best.start)) {
      best = s;
      bestDist = dist;
    }
    if (dist === 0) break;
  }
  return best && bestDist <= tol ? best : null;
}

/** The mark nearest to ``recordedMs`` within ``tolMs``; ``marks`` sorted by recorded_at. */
export function markAt(marks: readonly EventRow[], recordedMs: number, tolMs: number): EventRow | null {
  let lo = 0;
  let hi = marks.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (marks[mid].recorded_at < recordedMs) lo = mid + 1;
    else hi = mid;
  }
  let best: EventRow | null = null;
  for (const i of [lo - 1, lo]) {
    const m = marks[i];
    if (m && (!best || Math.abs(m.recorded_at - recordedMs) < Math.abs(best.recorded_at - recordedMs))) best = m;
  }
  return best && Math.abs(best.recorded_at - recordedMs) <= tolMs ? best : null;
}

export interface TimelineOptions {
  width?: number;
  nodeOrder?: readonly string[];
  onSelect?: (seq: number) => void;
}

export interface TimelineHandle {
  readonly svg: SVGSVGElement;
  update(events: readonly EventRow[]): void;
  setSelected(seq: number | null): void;
  /** Rows in this order first (the graph's nodes, once its topology is known). */
  setNodeOrder(order: readonly string[]): void;
}

function eventTitle(e: EventRow): string {
  const head = [`#${e.seq} ${e.type}`, e.node ? `node ${e.node}` : "", e.step !== null ? `step ${e.step}` : ""];
  if (e.attempt !== null && e.attempt > 1) head.push(`attempt ${e.attempt}`);
  if (e.duration_ms !== null) head.push(`${Math.round(e.duration_ms * 10) / 10} ms`);
  return `${head.filter(Boolean).join(" · ")}\n${preview(parseData(e), 1500)}`;
}

/** Rows drawn beyond the visible ones, above and below (smooth scrolling). */
const ROW_MARGIN = 4;
/** Rows drawn when the box has no height yet (not attached, hidden). */
const DEFAULT_VISIBLE_ROWS = 24;

/**
 * The timeline in ``container``. Large runs stay cheap: ``update`` only indexes the new events;
 * only the rows scrolled into view are drawn, spans closer than two pixels are drawn as one bar
 * (``data-count``), and payloads are formatted on hover (one tooltip), not for every bar. Drawing
 * happens at most once per animation frame (or 50 ms timer without frames); ``update`` draws at once
 * the first time so a caller sees the result.
 */
export function renderTimeline(container: Element, options: TimelineOptions = {}): TimelineHandle {
  const root = svg("svg", { class: "dg-timeline" }) as SVGSVGElement;
  const tooltip = document.createElement("div");
  tooltip.className = "dg-tooltip";
  tooltip.style.display = "none";
  const index = new TimelineIndex();
  let nodeOrder: readonly string[] = options.nodeOrder ?? [];
  let selected: number | null = null;
  let keys: string[] = [];
  let t0 = 0;
  let scale: Scale = linearScale(0, 1e-3, LABEL_W, LABEL_W + 50);
  let width = 0;
  let height = 0;
  const box = container as HTMLElement;

  const layers = {
    axis: svg("g", { class: "dg-axis" }),
    labels: svg("g", { class: "dg-row-labels" }),
    bars: svg("g", { class: "dg-bars" }),
    selection: svg("g", { class: "dg-selection" }),
  };
  root.append(layers.axis, layers.labels, layers.bars, layers.selection);

  function rowY(i: number): number {
    return AXIS_H + ROW_H * (i + 1);
  }

  function visibleRows(): [number, number] {
    const top = box.scrollTop || 0;
    const h = box.clientHeight || DEFAULT_VISIBLE_ROWS * ROW_H;
    const first = Math.max(0, Math.floor((top - AXIS_H) / ROW_H) - 1 - ROW_MARGIN);
    const last = Math.min(keys.length - 1, Math.ceil((top + h - AXIS_H) / ROW_H) + ROW_MARGIN);
    return [first, last];
  }

  function layout(): void {
    width = options.width ?? Math.max(400, box.clientWidth || 720);
    const [a, b] = index.extent();
    t0 = a;
    const plotW = Math.max(50, width - LABEL_W - 10);
    scale = linearScale(0, Math.max(b - a, 1e-3), LABEL_W, LABEL_W + plotW);
    width = LABEL_W + plotW + 10;
    keys = index.rowKeys(nodeOrder);
    height = AXIS_H + ROW_H * (keys.length + 1) + 4;
    root.setAttribute("viewBox", `0 0 ${width} ${height}`);
    root.setAttribute("width", String(width));
    root.setAttribute("height", String(height));
    root.dataset.spans = String(index.spanCount);
    root.dataset.rows = String(keys.length);
  }

  function drawAxis(): void {
    clear(layers.axis);
    for (const t of scale.ticks(6)) {
      const x = String(scale(t));
      layers.axis.appendChild(svg("line", { x1: x, x2: x, y1: String(AXIS_H - 4), y2: String(height), class: "dg-grid" }));
      const label = svg("text", { x, y: String(AXIS_H - 8), class: "dg-tick" });
      label.textContent = formatSeconds(t);
      layers.axis.appendChild(label);
    }
  }

  function rowLabel(key: string, label: string, y: number): SVGElement {
    const text = svg("text", { x: "4", y: String(y + ROW_H / 2 + 4), class: "dg-row-label" });
    text.textContent = label.length > 18 ? `${label.slice(0, 17)}…` : label;
    const title = svg("title");
    title.textContent = key;
    text.appendChild(title);
    return text;
  }

  function barsOf(key: string, y: number): TimelineBar[] {
    return index.spansOf(key).map((span) => {
      const x = scale(span.start - t0);
      return { span, x, w: Math.max(2, scale(span.end - t0) - x), y, cls: spanClass(span) };
    });
  }

  function drawRows(): void {
    clear(layers.labels);
    clear(layers.bars);
    const frag = document.createDocumentFragment();
    const labels = document.createDocumentFragment();
    labels.appendChild(rowLabel("__run__", "run", AXIS_H));
    // Run-level marks: 3 px ticks, merged when closer than that.
    let last: { el: SVGElement; x: number; count: number } | null = null;
    for (const e of index.sortedMarks()) {
      const x = scale(e.recorded_at / 1000 - t0);
      if (last && x - last.x < 3) {
        last.count++;
        last.el.setAttribute("data-count", String(last.count));
        last.el.setAttribute("width", String(Math.max(3, x - last.x + 3)));
        continue;
      }
      const tick = svg("rect", {
        x: String(x - 1.5),
        y: String(AXIS_H + 3),
        width: "3",
        height: String(ROW_H - 6),
        class: `dg-mark dg-mark-${e.type}`,
        "data-seq": String(e.seq),
      });
      last = { el: tick, x, count: 1 };
      frag.appendChild(tick);
    }
    const [first, lastRow] = visibleRows();
    for (let i = first; i <= lastRow; i++) {
      const key = keys[i];
      const y = rowY(i);
      labels.appendChild(rowLabel(key, key, y));
      for (const bar of aggregateBars(barsOf(key, y))) {
        const attrs: Record<string, string> = {
          x: String(bar.x),
          y: String(y + 3),
          width: String(bar.w),
          height: String(ROW_H - 6),
          rx: "2",
          class: bar.cls,
          "data-seq": String(bar.seq),
          "data-node": key,
        };
        if (bar.count > 1) attrs["data-count"] = String(bar.count);
        frag.appendChild(svg("rect", attrs));
      }
    }
    layers.labels.appendChild(labels);
    layers.bars.appendChild(frag);
  }

  function drawSelection(): void {
    clear(layers.selection);
    if (selected === null) return;
    const item = index.bySeq.get(selected);
    if (!item) return;
    let x: number, w: number, y: number;
    if ("key" in item) {
      const row = keys.indexOf(item.key);
      if (row < 0) return;
      x = scale(item.start - t0);
      w = Math.max(2, scale(item.end - t0) - x);
      y = rowY(row);
    } else {
      x = scale(item.recorded_at / 1000 - t0) - 1.5;
      w = 3;
      y = AXIS_H;
    }
    layers.selection.appendChild(
      svg("rect", {
        x: String(x),
        y: String(y + 2),
        width: String(w),
        height: String(ROW_H - 4),
        rx: "2",
        class: "dg-span-selected dg-selected",
        "data-seq": String(selected),
      }),
    );
  }

  function draw(): void {
    const t = typeof performance === "object" ? performance.now() : 0;
    layout();
    drawAxis();
    drawRows();
    drawSelection();
    // How long the last draw took (DOM work, not layout or paint): read by the browser benchmark.
    if (t) root.dataset.drawMs = (performance.now() - t).toFixed(2);
  }

  let scheduled = false;
  let drawnOnce = false;
  const frame =
    typeof requestAnimationFrame === "function"
      ? (cb: () => void) => {
          // A hidden tab or a headless page may never give a frame: a timer as a fallback.
          let done = false;
          const run = () => {
            if (!done) {
              done = true;
              cb();
            }
          };
          requestAnimationFrame(run);
          setTimeout(run, 100);
        }
      : (cb: () => void) => setTimeout(cb, 50);
  function schedule(): void {
    if (scheduled) return;
    scheduled = true;
    frame(() => {
      scheduled = false;
      draw();
    });
  }

  /** The span or mark under a pointer position (client coordinates). */
  function hit(clientX: number, clientY: number): Span | EventRow | null {
    const rect = root.getBoundingClientRect();
    const sx = width / (rect.width || width);
    const sy = height / (rect.height || height);
    const x = (clientX - rect.left) * sx;
    const y = (clientY - rect.top) * sy;
    if (x < LABEL_W - 3) return null;
    const t = scale.invert(x) + t0;
    const tol = Math.abs(scale.invert(LABEL_W + 3) - scale.invert(LABEL_W));
    if (y >= AXIS_H && y < AXIS_H + ROW_H) return markAt(index.sortedMarks(), t * 1000, tol * 1000);
    const row = Math.floor((y - AXIS_H) / ROW_H) - 1;
    if (row < 0 || row >= keys.length) return null;
    return spanAt(index.spansOf(keys[row]), t, tol);
  }

  function showTooltip(ev: MouseEvent): void {
    const item = hit(ev.clientX, ev.clientY);
    if (!item) {
      tooltip.style.display = "none";
      return;
    }
    const event = "key" in item ? item.event : item;
    tooltip.textContent = eventTitle(event);
    tooltip.dataset.seq = String(event.seq);
    const boxRect = box.getBoundingClientRect();
    tooltip.style.display = "block";
    // Inside the box (which scrolls): left of the pointer near the right edge, above it near the bottom.
    const left = ev.clientX - boxRect.left + box.scrollLeft + 12;
    const top = ev.clientY - boxRect.top + box.scrollTop + 12;
    const maxLeft = box.scrollLeft + (box.clientWidth || width) - tooltip.offsetWidth - 4;
    const maxTop = box.scrollTop + (box.clientHeight || height) - tooltip.offsetHeight - 4;
    tooltip.style.left = `${Math.max(box.scrollLeft, Math.min(left, maxLeft))}px`;
    tooltip.style.top = `${Math.max(box.scrollTop, Math.min(top, maxTop))}px`;
  }

  root.addEventListener("mousemove", showTooltip);
  root.addEventListener("mouseleave", () => {
    tooltip.style.display = "none";
  });
  root.addEventListener("click", (ev) => {
    if (!options.onSelect) return;
    const item = hit(ev.clientX, ev.clientY);
    const seq = item ? ("key" in item ? item.seq : item.seq) : Number((ev.target as Element | null)?.getAttribute?.("data-seq") ?? NaN);
    if (Number.isFinite(seq)) options.onSelect(seq);
  });
  box.addEventListener("scroll", schedule, { passive: true });
  clear(container);
  container.appendChild(root);
  container.appendChild(tooltip);
  draw();
  return {
    svg: root,
    update(events: readonly EventRow[]) {
      index.sync(events);
      if (!drawnOnce) {
        drawnOnce = true;
        draw();
      } else {
        schedule();
      }
    },
    setSelected(seq: number | null) {
      selected = seq;
      drawSelection();
    },
    setNodeOrder(order: readonly string[]) {
      nodeOrder = order;
      schedule();
    },
  };
}
