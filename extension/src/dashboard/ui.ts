// Small DOM helpers shared by the pages.
import { h, section } from "../renderers/dom";
import type { Api } from "./api";
import type { PageName } from "./contract";

export { h, section };

export type Cleanup = () => void;

export interface PageContext {
  root: HTMLElement;
  api: Api;
  params: Record<string, string>;
  navigate: (page: PageName, params?: Record<string, string>) => void;
  /** Add a cleanup run when the page goes away. */
  onDispose: (fn: Cleanup) => void;
  /** True once the page has been left (async work must stop touching the DOM). */
  readonly disposed: boolean;
}

export type Page = (ctx: PageContext) => void;

/** A message line for a page: errors are role=alert and carry data-dg-message="error". */
export class Notice {
  readonly element = h("div", { class: "dg-notice", "aria-live": "polite" });
  show(text: string, kind: "error" | "warning" | "info" = "error"): void {
    this.element.textContent = text;
    this.element.dataset.dgMessage = kind;
    this.element.className = `dg-notice dg-notice-${kind}`;
    this.element.setAttribute("role", kind === "error" ? "alert" : "status");
  }
  clear(): void {
    this.element.textContent = "";
    delete this.element.dataset.dgMessage;
    this.element.className = "dg-notice";
  }
}

export function button(label: string, onClick: () => void, attrs: Record<string, string> = {}): HTMLButtonElement {
  const b = h("button", { type: "button", class: "dg-button", ...attrs }, label);
  b.addEventListener("click", onClick);
  return b;
}

export function badge(status: string): HTMLElement {
  return h("span", { class: `dg-pill dg-pill-${status}`, "data-status": status }, status);
}

export function shortId(id: string): string {
  return id.length > 8 ? id.slice(0, 8) : id;
}

export function formatWhen(iso: string | null | undefined): string {
  if (!iso) return "";
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return iso;
  const d = new Date(t);
  const same = new Date().toDateString() === d.toDateString();
  return same ? d.toLocaleTimeString() : d.toLocaleString();
}

export function formatDuration(s: number | null): string {
  if (s === null) return "";
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s - m * 60)} s`;
}

export function link(text: string, onClick: () => void, attrs: Record<string, string> = {}): HTMLAnchorElement {
  const a = h("a", { href: "#", class: "dg-link", ...attrs }, text);
  a.addEventListener("click", (e) => {
    e.preventDefault();
    onClick();
  });
  return a;
}

/** A table with a header row. */
export function table(headers: readonly string[], rows: HTMLElement[], attrs: Record<string, string> = {}): HTMLTableElement {
  return h("table", { class: "dg-table", ...attrs }, h("thead", {}, h("tr", {}, ...headers.map((c) => h("th", {}, c)))), h("tbody", {}, ...rows));
}

/** Save a blob as a file through the browser's download. */
export function download(name: string, blob: Blob): void {
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: name, style: "display:none" });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}


/** Run `fn` every `ms` while the page lives (and once now); errors go to `onError`. */
export function poll(ctx: PageContext, ms: number, fn: () => Promise<void>, onError: (err: unknown) => void): void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  const tick = async () => {
    try {
      await fn();
    } catch (err) {
      if (!stopped) onError(err);
    }
    if (!stopped) timer = setTimeout(tick, ms);
  };
  ctx.onDispose(() => {
    stopped = true;
    if (timer) clearTimeout(timer);
  });
  void tick();
}

/** Text of a chat message's content (a string or a list of content blocks). */
export function messageText(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content))
    return content
      .map((b) => (typeof b === "string" ? b : b && typeof b === "object" && "text" in b ? String((b as { text: unknown }).text) : ""))
      .join("");
  return content === undefined || content === null ? "" : JSON.stringify(content);
}

export interface ChatMessage {
  id?: string;
  type?: string;
  role?: string;
  content?: unknown;
  tool_calls?: unknown[];
  name?: string;
}

export function messageRole(m: ChatMessage): string {
  const t = m.type ?? m.role ?? "";
  if (t === "human" || t === "user") return "user";
  if (t === "ai" || t === "assistant" || t === "AIMessageChunk") return "assistant";
  if (t === "tool") return "tool";
  if (t === "system") return "system";
  return t || "message";
}
