// The part of anywidget's model API the widgets use, and the event feed: event batches
// arrive as custom messages ({kind: "events", reset}) with one Arrow IPC buffer.
import { decodeEvents, EventLog, EventRow } from "../renderers/events";

export type Callback = (...args: any[]) => void;

export interface AnyModel {
  get(name: string): any;
  set(name: string, value: unknown): void;
  save_changes(): void;
  on(event: string, cb: Callback): void;
  off(event?: string | null, cb?: Callback | null): void;
  send(content: unknown, callbacks?: unknown, buffers?: ArrayBuffer[] | ArrayBufferView[]): void;
}

export interface RenderProps {
  model: AnyModel;
  el: HTMLElement;
}

/** Calls ``fn`` at most once per animation frame (or 50 ms without one). */
export function throttled(fn: () => void): () => void {
  let pending = false;
  const schedule =
    typeof requestAnimationFrame === "function" ? requestAnimationFrame : (cb: () => void) => setTimeout(cb, 50);
  return () => {
    if (pending) return;
    pending = true;
    schedule(() => {
      pending = false;
      fn();
    });
  };
}

/** Like `throttled`, but on a timer: for messages to the kernel, which must go out even when no
 * frame is drawn (a hidden tab, a headless browser), unlike drawing. */
export function throttledTimer(fn: () => void, ms = 50): () => void {
  let pending = false;
  return () => {
    if (pending) return;
    pending = true;
    setTimeout(() => {
      pending = false;
      fn();
    }, ms);
  };
}

/** The run's events as received by this view. Tells the kernel it is ready (the kernel then
 * sends everything so far, with ``reset``), and notifies listeners once per frame. */
export class EventFeed {
  readonly log = new EventLog();
  private listeners = new Set<(rows: readonly EventRow[]) => void>();
  private handler: Callback;
  private notify = throttled(() => {
    for (const l of this.listeners) l(this.log.rows);
  });

  constructor(private model: AnyModel) {
    this.handler = (msg: { kind?: string; reset?: boolean }, buffers?: DataView[]) => {
      if (!msg || msg.kind !== "events") return;
      if (msg.reset) this.log.reset();
      for (const buf of buffers ?? []) this.log.add(decodeEvents(buf));
      this.notify();
    };
    model.on("msg:custom", this.handler);
    model.send({ kind: "ready" });
  }

  subscribe(listener: (rows: readonly EventRow[]) => void): () => void {
    this.listeners.add(listener);
    listener(this.log.rows);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.model.off("msg:custom", this.handler);
    this.listeners.clear();
  }
}

export function setTrait(model: AnyModel, name: string, value: unknown): void {
  model.set(name, value);
  model.save_changes();
}
