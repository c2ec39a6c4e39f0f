// A virtual list: a scrolling viewport that renders only the rows in view (plus a few above and
// below), so that a run's event log of 100,000 events scrolls as smoothly as one of ten.
import { html } from "./dom";

export interface ListWindow {
  /** first row rendered */
  start: number;
  /** one past the last row rendered */
  end: number;
  /** pixels above the first rendered row */
  offset: number;
  /** height of the whole list */
  total: number;
}

/** The rows to render for a viewport of `height` px scrolled to `scrollTop`. */
export function listWindow(count: number, rowHeight: number, scrollTop: number, height: number, overscan = 8): ListWindow {
  const total = count * rowHeight;
  if (count === 0 || rowHeight <= 0) return { start: 0, end: 0, offset: 0, total: Math.max(0, total) };
  const top = Math.max(0, Math.min(scrollTop, Math.max(0, total - height)));
  const first = Math.floor(top / rowHeight);
  const visible = Math.ceil(Math.max(height, rowHeight) / rowHeight) + 1;
  const start = Math.max(0, first - overscan);
  const end = Math.min(count, first + visible + overscan);
  return { start, end, offset: start * rowHeight, total };
}

export interface VirtualListOptions<T> {
  rowHeight: number;
  renderRow: (item: T, index: number) => HTMLElement;
  /** viewport height when the element has no layout yet (tests, hidden tabs) */
  fallbackHeight?: number;
  overscan?: number;
  className?: string;
}

export class VirtualList<T> {
  readonly element: HTMLDivElement;
  private readonly spacer: HTMLDivElement;
  private readonly rows: HTMLDivElement;
  private items: readonly T[] = [];
  private rendered: ListWindow = { start: 0, end: 0, offset: 0, total: 0 };
  private frame = 0;
  /** follow the end of the list while the user has not scrolled up */
  follow = true;

  constructor(private readonly options: VirtualListOptions<T>) {
    this.element = html("div", { class: `dg-vlist ${options.className ?? ""}`.trim(), tabindex: "0" });
    this.spacer = html("div", { class: "dg-vlist-spacer" });
    this.rows = html("div", { class: "dg-vlist-rows" });
    this.spacer.append(this.rows);
    this.element.append(this.spacer);
    this.element.addEventListener("scroll", () => {
      const el = this.element;
      this.follow = el.scrollTop + el.clientHeight >= el.scrollHeight - this.options.rowHeight;
      this.schedule();
    });
  }

  get length(): number {
    return this.items.length;
  }

  /** The rows currently in the DOM (for tests and hosts). */
  get renderedRange(): ListWindow {
    return this.rendered;
  }

  setItems(items: readonly T[]): void {
    this.items = items;
    // The spacer grows first: a browser clamps scrollTop to the content's height when it is set.
    const total = items.length * this.options.rowHeight;
    this.spacer.style.height = `${total}px`;
    if (this.follow) this.element.scrollTop = total;
    this.render(true);
  }

  scrollToIndex(index: number): void {
    const h = this.options.rowHeight;
    const el = this.element;
    const view = el.clientHeight || this.options.fallbackHeight || 400;
    const top = index * h;
    if (top < el.scrollTop || top + h > el.scrollTop + view) el.scrollTop = Math.max(0, top - view / 2);
    this.render(true);
  }

  refresh(): void {
    this.render(true);
  }

  private schedule(): void {
    if (this.frame) return;
    const raf = typeof requestAnimationFrame === "function" ? requestAnimationFrame : (f: () => void) => setTimeout(f, 16);
    this.frame = raf(() => {
      this.frame = 0;
      this.render(false);
    }) as unknown as number;
  }

  private render(force: boolean): void {
    const el = this.element;
    const height = el.clientHeight || this.options.fallbackHeight || 400;
    const win = listWindow(this.items.length, this.options.rowHeight, el.scrollTop, height, this.options.overscan);
    this.spacer.style.height = `${win.total}px`;
    if (!force && win.start === this.rendered.start && win.end === this.rendered.end) return;
    this.rendered = win;
    this.rows.style.transform = `translateY(${win.offset}px)`;
    const children: HTMLElement[] = [];
    for (let i = win.start; i < win.end; i++) {
      const row = this.options.renderRow(this.items[i], i);
      row.style.height = `${this.options.rowHeight}px`;
      row.dataset.index = String(i);
      children.push(row);
    }
    this.rows.replaceChildren(...children);
  }
}
