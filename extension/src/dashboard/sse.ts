// Server-sent events over fetch() (EventSource cannot send headers nor POST): a frame parser
// and a follower that reconnects with Last-Event-ID and never delivers a stored event twice.
import type { Transport } from "./contract";

export interface SseFrame {
  event: string;
  data: string;
  /** the frame's id (the event's global seq on our API); null for live-only frames */
  id: string | null;
}

/** Incremental parser of the text/event-stream format (WHATWG HTML §9.2.6). Feed it decoded
 * text in chunks of any size; complete frames come out. Comments (": heartbeat") are dropped. */
export class SseParser {
  private buffer = "";
  private event = "";
  private data: string[] = [];
  private id: string | null = null;
  private hasField = false;
  /** the last id seen, kept across frames (as the spec's "last event ID buffer") */
  lastEventId: string | null = null;

  feed(chunk: string): SseFrame[] {
    this.buffer += chunk;
    const out: SseFrame[] = [];
    let start = 0;
    for (;;) {
      let nl = -1;
      for (let i = start; i < this.buffer.length; i++) {
        const c = this.buffer.charCodeAt(i);
        if (c === 10 || c === 13) {
          nl = i;
          break;
        }
      }
      if (nl < 0) break;
      // "\r\n" counts as one line end; a lone "\r" at the very end may be half of one.
      if (this.buffer.charCodeAt(nl) === 13 && nl + 1 === this.buffer.length) break;
      const line = this.buffer.slice(start, nl);
      start = nl + (this.buffer.charCodeAt(nl) === 13 && this.buffer.charCodeAt(nl + 1) === 10 ? 2 : 1);
      const frame = this.line(line);
      if (frame) out.push(frame);
    }
    this.buffer = this.buffer.slice(start);
    return out;
  }

  private line(line: string): SseFrame | null {
    if (line === "") {
      if (!this.hasField) return null;
      const frame: SseFrame = { event: this.event || "message", data: this.data.join("\n"), id: this.id };
      this.event = "";
      this.data = [];
      this.id = null;
      this.hasField = false;
      return frame;
    }
    if (line.startsWith(":")) return null;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    switch (field) {
      case "event":
        this.event = value;
        this.hasField = true;
        break;
      case "data":
        this.data.push(value);
        this.hasField = true;
        break;
      case "id":
        if (!value.includes("\0")) {
          this.id = value;
          this.lastEventId = value;
        }
        this.hasField = true;
        break;
      default:
        break; // "retry" and unknown fields are ignored
    }
    return null;
  }
}

/** A frame whose data is JSON, parsed; a frame that is not valid JSON is reported, not thrown. */
export interface StreamEvent {
  event: string;
  data: unknown;
  seq: number | null;
}

export interface FollowOptions {
  transport: Transport;
  /** The first request (e.g. POST threads/{id}/runs/stream, or GET runs/{id}/stream). */
  path: string;
  init?: RequestInit;
  /** Where to reconnect (a GET stream), given the run id of the metadata frame; default: `path`. */
  reconnectPath?: (runId: string | null) => string;
  onEvent: (event: StreamEvent) => void;
  /** A problem worth showing: a malformed frame, a lost connection being retried, a final failure. */
  onProblem?: (message: string, final: boolean) => void;
  /** The stream ended normally (the run came to rest). */
  onEnd?: () => void;
  /** Reconnect attempts after a dropped connection before giving up (default 8). */
  maxRetries?: number;
  retryDelayMs?: number;
}

export interface StreamHandle {
  close(): void;
  readonly done: Promise<void>;
}

/** Decides whether a frame is new: frames with an id at or below the last delivered seq are
 * duplicates (a reconnect replays from Last-Event-ID, a live relay may overlap). */
export class SeqFilter {
  last = -1;
  accept(id: string | null): boolean {
    if (id === null) return true;
    const seq = Number(id);
    if (!Number.isFinite(seq)) return true;
    if (seq <= this.last) return false;
    this.last = seq;
    return true;
  }
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** the API's error code (`{"error": code}`), when the server sent one */
    readonly code: string | null = null,
    /** the API's own message (`{"message": text}`), without the status prefix */
    readonly detail: string = "",
  ) {
    super(message);
  }
}

/** The message a failed response stands for (our API's `{"error", "message"}` bodies). */
export async function responseError(resp: Response): Promise<HttpError> {
  let detail = "";
  let code: string | null = null;
  try {
    const text = await resp.text();
    try {
      const body = JSON.parse(text) as { message?: string; error?: string };
      detail = body.message ?? body.error ?? "";
      code = typeof body.error === "string" ? body.error : null;
    } catch {
      detail = "";
    }
  } catch {
    detail = "";
  }
  return new HttpError(resp.status, describeStatus(resp.status, detail), code, detail);
}

export function describeStatus(status: number, detail: string): string {
  const tail = detail ? `: ${detail}` : "";
  if (status === 403 || status === 401)
    return `not authorized (HTTP ${status}) — your login or token has expired; reload the page to log in again${tail}`;
  if (status === 404) return `not found (HTTP 404)${tail || " — it may have been deleted"}`;
  if (status === 503) return `the server is degraded (HTTP 503)${tail}`;
  return `HTTP ${status}${tail}`;
}

export function networkMessage(err: unknown): string {
  const why = err instanceof Error ? err.message : String(err);
  return `cannot reach the DuraGraph server (${why}) — is it still running?`;
}

/** Follow an SSE stream until it ends, reconnecting with Last-Event-ID after a dropped connection. */
export function followStream(options: FollowOptions): StreamHandle {
  const controller = new AbortController();
  const filter = new SeqFilter();
  const maxRetries = options.maxRetries ?? 8;
  const delay = options.retryDelayMs ?? 500;
  let runId: string | null = null;
  let closed = false;

  async function once(first: boolean): Promise<"end" | "dropped"> {
    const headers = new Headers(first ? options.init?.headers : undefined);
    headers.set("Accept", "text/event-stream");
    if (!first && filter.last >= 0) headers.set("Last-Event-ID", String(filter.last));
    const path = first ? options.path : (options.reconnectPath?.(runId) ?? options.path);
    const init: RequestInit = first
      ? { ...options.init, headers, signal: controller.signal }
      : { method: "GET", headers, signal: controller.signal };
    const resp = await options.transport.request(path, init);
    if (!resp.ok) throw await responseError(resp);
    if (!resp.body) throw new Error("the stream has no body");
    const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
    const parser = new SseParser();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return "end";
      for (const frame of parser.feed(value)) {
        if (!filter.accept(frame.id)) continue;
        let data: unknown;
        try {
          data = frame.data === "" ? null : JSON.parse(frame.data);
        } catch {
          options.onProblem?.(`malformed event "${frame.event}" (not JSON): ${frame.data.slice(0, 120)}`, false);
          continue;
        }
        if (frame.event === "metadata" && data && typeof data === "object" && "run_id" in data) {
          runId = String((data as { run_id: unknown }).run_id);
        }
        options.onEvent({ event: frame.event, data, seq: frame.id === null ? null : Number(frame.id) });
      }
    }
  }

  const done = (async () => {
    let attempt = 0;
    let first = true;
    while (!closed) {
      try {
        const how = await once(first);
        first = false;
        if (how === "end") {
          if (!closed) options.onEnd?.();
          return;
        }
      } catch (err) {
        if (closed || controller.signal.aborted) return;
        if (err instanceof HttpError) {
          options.onProblem?.(err.message, true);
          return;
        }
        // A first POST that never got an answer must not be retried: it may have started a run.
        if (first && (options.init?.method ?? "GET") !== "GET" && runId === null) {
          options.onProblem?.(networkMessage(err), true);
          return;
        }
        first = false;
        attempt++;
        if (attempt > maxRetries) {
          options.onProblem?.(networkMessage(err), true);
          return;
        }
        options.onProblem?.(`connection lost, reconnecting (${attempt}/${maxRetries})…`, false);
        await new Promise((r) => setTimeout(r, delay * Math.min(attempt, 4)));
      }
    }
  })();

  return {
    close() {
      closed = true;
      controller.abort();
    },
    done,
  };
}
