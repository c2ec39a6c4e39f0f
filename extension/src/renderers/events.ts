// Run events as the widgets receive them: Arrow IPC batches built by
// duragraph_lab.notebook.widgets (one row per durable event), decoded into plain rows.
import { tableFromIPC } from "apache-arrow";

export interface EventRow {
  seq: number;
  /** epoch milliseconds */
  recorded_at: number;
  type: string;
  node: string | null;
  ns: string | null;
  step: number | null;
  attempt: number | null;
  task: string | null;
  /** epoch seconds (node_completed / node_failed) */
  started_at: number | null;
  finished_at: number | null;
  duration_ms: number | null;
  /** the payload, as JSON text (parsed on demand) */
  data: string;
}

/** The column names and order of an event batch (the Python side writes the same). */
export const EVENT_COLUMNS = [
  "seq",
  "recorded_at",
  "type",
  "node",
  "ns",
  "step",
  "attempt",
  "task",
  "started_at",
  "finished_at",
  "duration_ms",
  "data",
] as const;

function num(v: unknown): number | null {
  if (v === null || v === undefined) return null;
  return typeof v === "bigint" ? Number(v) : (v as number);
}

function str(v: unknown): string | null {
  return v === null || v === undefined ? null : String(v);
}

type Bytes = ArrayBuffer | ArrayBufferView | DataView;

function toUint8(buf: Bytes): Uint8Array {
  if (buf instanceof Uint8Array) return buf;
  if (ArrayBuffer.isView(buf)) return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  return new Uint8Array(buf);
}

/** Decode one Arrow IPC stream of events. */
export function decodeEvents(buf: Bytes): EventRow[] {
  const table = tableFromIPC(toUint8(buf));
  const col = (name: string) => table.getChild(name);
  const cols = Object.fromEntries(EVENT_COLUMNS.map((n) => [n, col(n)]));
  const rows: EventRow[] = new Array(table.numRows);
  for (let i = 0; i < table.numRows; i++) {
    rows[i] = {
      seq: num(cols.seq?.get(i)) ?? 0,
      recorded_at: num(cols.recorded_at?.get(i)) ?? 0,
      type: str(cols.type?.get(i)) ?? "",
      node: str(cols.node?.get(i)),
      ns: str(cols.ns?.get(i)),
      step: num(cols.step?.get(i)),
      attempt: num(cols.attempt?.get(i)),
      task: str(cols.task?.get(i)),
      started_at: num(cols.started_at?.get(i)),
      finished_at: num(cols.finished_at?.get(i)),
      duration_ms: num(cols.duration_ms?.get(i)),
      data: str(cols.data?.get(i)) ?? "null",
    };
  }
  return rows;
}

export function parseData(row: EventRow): unknown {
  try {
    return JSON.parse(row.data);
  } catch {
    return row.data;
  }
}

/** Events kept in seq order, without duplicates (a batch may overlap one already received). */
export class EventLog {
  rows: EventRow[] = [];
  private seqs = new Set<number>();

  reset(): void {
    this.rows = [];
    this.seqs.clear();
  }

  add(batch: EventRow[]): number {
    let added = 0;
    let sorted = true;
    let prev = this.rows.length ? this.rows[this.rows.length - 1].seq : -Infinity;
    for (const row of batch) {
      if (this.seqs.has(row.seq)) continue;
      this.seqs.add(row.seq);
      if (row.seq < prev) sorted = false;
      prev = row.seq;
      this.rows.push(row);
      added++;
    }
    if (!sorted) this.rows.sort((a, b) => a.seq - b.seq);
    return added;
  }
}
