// Node executions over time, Gantt-like: one row per node, one bar per attempt (failed attempts
// red, retried ones hatched), run-level events as ticks on a top row; hover for the payload,
// click to select an event.
import { clear, preview, svg } from "./dom";
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
      willRetry = Boolean(data && typeof data === "object" && (data as { will_retry?: unknown }).will_retry);
    }
    const ns = e.ns ?? "";
    out.push({
      key: ns ? `${ns}${e.node}` : e.node,
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

export interface TimelineOptions {
  width?: number;
  nodeOrder?: readonly string[];
  onSelect?: (seq: number) => void;
}

export interface TimelineHandle {
  readonly svg: SVGSVGElement;
  update(events: readonly EventRow[]): void;
  setSelected(seq: number | null): void;
}

function eventTitle(e: EventRow): string {
  const head = [`#${e.seq} ${e.type}`, e.node ? `node ${e.node}` : "", e.step !== null ? `step ${e.step}` : ""];
  if (e.attempt !== null && e.attempt > 1) head.push(`attempt ${e.attempt}`);
  if (e.duration_ms !== null) head.push(`${Math.round(e.duration_ms * 10) / 10} ms`);
  return `${head.filter(Boolean).join(" · ")}\n${preview(parseData(e), 1500)}`;
}

export function renderTimeline(container: Element, options: TimelineOptions = {}): TimelineHandle {
  const root = svg("svg", { class: "dg-timeline" }) as SVGSVGElement;
  let selected: number | null = null;
  const bySeq = new Map<number, SVGElement>();

  function paintSelected(): void {
    for (const [seq, el] of bySeq) el.classList.toggle("dg-selected", seq === selected);
  }

  function draw(events: readonly EventRow[]): void {
    clear(root);
    bySeq.clear();
    const width = options.width ?? Math.max(400, (container as HTMLElement).clientWidth || 720);
    const m = timelineModel(events, width, options.nodeOrder ?? []);
    root.setAttribute("viewBox", `0 0 ${m.width} ${m.height}`);
    root.setAttribute("width", String(m.width));
    root.setAttribute("height", String(m.height));
    const axis = svg("g", { class: "dg-axis" });
    for (const t of m.scale.ticks(6)) {
      const x = String(m.scale(t));
      axis.appendChild(svg("line", { x1: x, x2: x, y1: String(AXIS_H - 4), y2: String(m.height), class: "dg-grid" }));
      const label = svg("text", { x, y: String(AXIS_H - 8), class: "dg-tick" });
      label.textContent = formatSeconds(t);
      axis.appendChild(label);
    }
    root.appendChild(axis);
    const labels = svg("g", { class: "dg-row-labels" });
    for (const row of m.rows) {
      const text = svg("text", { x: "4", y: String(row.y + ROW_H / 2 + 4), class: "dg-row-label" });
      text.textContent = row.label.length > 18 ? `${row.label.slice(0, 17)}…` : row.label;
      const title = svg("title");
      title.textContent = row.key;
      text.appendChild(title);
      labels.appendChild(text);
    }
    root.appendChild(labels);
    const fragment = document.createDocumentFragment();
    for (const bar of m.bars) {
      const rect = svg("rect", {
        x: String(bar.x),
        y: String(bar.y + 3),
        width: String(bar.w),
        height: String(ROW_H - 6),
        rx: "2",
        class: bar.cls,
        "data-seq": String(bar.span.seq),
        "data-node": bar.span.key,
      });
      const title = svg("title");
      title.textContent = eventTitle(bar.span.event);
      rect.appendChild(title);
      bySeq.set(bar.span.seq, rect);
      fragment.appendChild(rect);
    }
    for (const mark of m.marks) {
      const tick = svg("rect", {
        x: String(mark.x - 1.5),
        y: String(AXIS_H + 3),
        width: "3",
        height: String(ROW_H - 6),
        class: `dg-mark dg-mark-${mark.event.type}`,
        "data-seq": String(mark.event.seq),
      });
      const title = svg("title");
      title.textContent = eventTitle(mark.event);
      tick.appendChild(title);
      bySeq.set(mark.event.seq, tick);
      fragment.appendChild(tick);
    }
    root.appendChild(fragment);
    paintSelected();
  }

  root.addEventListener("click", (ev) => {
    const target = ev.target as Element | null;
    const seq = target?.getAttribute?.("data-seq");
    if (seq && options.onSelect) options.onSelect(Number(seq));
  });
  clear(container);
  container.appendChild(root);
  draw([]);
  return {
    svg: root,
    update: draw,
    setSelected(seq: number | null) {
      selected = seq;
      paintSelected();
    },
  };
}
