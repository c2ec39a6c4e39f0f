import { test } from "node:test";
import assert from "node:assert/strict";
import { listWindow, VirtualList } from "../src/renderers/vlist";

test("the window covers the viewport plus overscan, clamped to the list", () => {
  assert.deepEqual(listWindow(0, 24, 0, 400), { start: 0, end: 0, offset: 0, total: 0 });
  assert.deepEqual(listWindow(10, 24, 0, 400, 2), { start: 0, end: 10, offset: 0, total: 240 });
  const w = listWindow(100_000, 24, 24 * 50_000, 480, 5);
  assert.equal(w.start, 50_000 - 5);
  assert.equal(w.end, 50_000 + 21 + 5);
  assert.equal(w.offset, w.start * 24);
  assert.equal(w.total, 2_400_000);
  // scrolled past the end (the list shrank): the last rows
  const end = listWindow(100, 24, 1e9, 480, 0);
  assert.equal(end.end, 100);
  assert.ok(end.start >= 79 && end.start <= 80);
});

test("every row of a 100,000-row list is reachable and the window size stays bounded", () => {
  const count = 100_000;
  const seen = new Uint8Array(count);
  for (let top = 0; top <= count * 24; top += 24 * 17) {
    const w = listWindow(count, 24, top, 600, 8);
    assert.ok(w.end - w.start <= 26 + 16, `window ${w.end - w.start} rows at ${top}`);
    for (let i = w.start; i < w.end; i++) seen[i] = 1;
  }
  assert.equal(seen.indexOf(0), -1);
});

// A minimal DOM: enough of document.createElement for the virtual list.
class FakeEl {
  children: FakeEl[] = [];
  style: Record<string, string> = {};
  dataset: Record<string, string> = {};
  attrs: Record<string, string> = {};
  listeners: Record<string, (() => void)[]> = {};
  scrollTop = 0;
  clientHeight = 0;
  scrollHeight = 0;
  textContent = "";
  constructor(readonly tag: string) {}
  setAttribute(k: string, v: string) {
    this.attrs[k] = v;
  }
  append(...c: FakeEl[]) {
    this.children.push(...c);
  }
  replaceChildren(...c: FakeEl[]) {
    this.children = c;
  }
  addEventListener(name: string, fn: () => void) {
    (this.listeners[name] ??= []).push(fn);
  }
}
(globalThis as unknown as { document: unknown }).document = { createElement: (tag: string) => new FakeEl(tag) };

test("a VirtualList of 100,000 items puts only the visible rows in the DOM, and follows the end", async () => {
  let rendered = 0;
  const list = new VirtualList<number>({
    rowHeight: 24,
    fallbackHeight: 480,
    overscan: 4,
    renderRow: (item) => {
      rendered++;
      const el = document.createElement("div");
      el.textContent = String(item);
      return el;
    },
  });
  const el = list.element as unknown as FakeEl;
  el.clientHeight = 480;
  // As a browser does: scrollTop never goes past the content (the spacer) minus the viewport.
  let top = 0;
  Object.defineProperty(el, "scrollTop", {
    get: () => top,
    set: (v: number) => {
      top = Math.max(0, Math.min(v, (parseFloat(el.children[0].style.height) || 0) - el.clientHeight));
    },
  });
  const items = Array.from({ length: 100_000 }, (_, i) => i);
  const t0 = performance.now();
  list.setItems(items);
  const ms = performance.now() - t0;
  const rows = el.children[0].children[0];
  assert.ok(rows.children.length <= 30, `${rows.children.length} rows in the DOM`);
  assert.equal(el.children[0].style.height, "2400000px");
  // It followed the end: the last item is rendered.
  assert.equal((rows.children[rows.children.length - 1] as FakeEl).textContent, "99999");
  assert.ok(ms < 50, `setItems took ${ms} ms`);
  // Jump to the middle.
  rendered = 0;
  list.scrollToIndex(50_000);
  const shown = rows.children.map((c) => Number((c as FakeEl).textContent));
  assert.ok(shown.includes(50_000));
  assert.ok(rendered <= 30);
  assert.equal(list.renderedRange.start, shown[0]);
});
