// A finished run's steps played back on the Playground's graph: the run's stored events folded
// into node statuses (the same fold as the Run view and the widgets: runview/status.ts), one
// frame each time a status changes, shown one after the other.
import type { NodeStatus } from "../../renderers/graph";
import { StatusFold, type StatusEvent } from "../../runview/status";
import type { Api, ApiEvent } from "../api";
import { toEventRow } from "./run";

export interface ReplayFrame {
  /** what changed in this frame ("agent done, tools running") */
  label: string;
  status: Record<string, NodeStatus>;
}

/** The frames of a run's events: the statuses after each event that changed one. */
export function replayFrames(events: readonly StatusEvent[]): ReplayFrame[] {
  const fold = new StatusFold();
  const frames: ReplayFrame[] = [];
  let before: Record<string, NodeStatus> = {};
  for (const e of events) {
    fold.apply(e);
    const status = fold.statuses();
    const changed = Object.entries(status).filter(([node, st]) => before[node] !== st);
    if (!changed.length) continue;
    before = status;
    const label = changed.map(([node, st]) => `${node === "__start__" ? "START" : node === "__end__" ? "END" : node} ${st}`).join(", ");
    frames.push({ label, status });
  }
  return frames;
}

/** Each node's status at the end of a run (what an opened thread's graph shows). */
export async function finalStatuses(api: Api, runId: string): Promise<Record<string, NodeStatus>> {
  const fold = new StatusFold();
  for (const e of await runEvents(api, runId)) fold.apply(toEventRow(e));
  return fold.statuses();
}

/** Every stored event of a run (paged). */
export async function runEvents(api: Api, runId: string): Promise<ApiEvent[]> {
  let out: ApiEvent[] = [];
  for (let page = 0; page < 100; page++) {
    const after = out.length ? out[out.length - 1].seq : 0;
    const got = await api.get<{ events: ApiEvent[]; has_more: boolean }>(`runs/${runId}/events?after=${after}&limit=1000`);
    out = out.concat(got.events.filter((e) => e.seq > after));
    if (!got.has_more || !got.events.length) break;
  }
  return out;
}

export interface Player {
  /** Play the run from its first event; resolves when done or stopped, with the statuses at the
   * run's last event (what the graph shows once the replay is over). */
  play(runId: string): Promise<Record<string, NodeStatus>>;
  stop(): void;
  readonly playing: boolean;
}

/** Plays frames through `show` every `stepMs`; `done` gets the final statuses back. */
export function replayPlayer(api: Api, show: (frame: ReplayFrame, index: number, count: number) => void, stepMs = 450): Player {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let finish: (() => void) | null = null;
  let playing = false;
  const stop = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    playing = false;
    finish?.();
    finish = null;
  };
  return {
    get playing() {
      return playing;
    },
    stop,
    async play(runId) {
      stop();
      playing = true;
      const frames = replayFrames((await runEvents(api, runId)).map(toEventRow));
      const end = frames.length ? frames[frames.length - 1].status : {};
      if (!playing) return end;
      await new Promise<void>((resolve) => {
        finish = resolve;
        let i = 0;
        const tick = () => {
          if (i >= frames.length) {
            stop();
            return;
          }
          show(frames[i], i, frames.length);
          i++;
          timer = setTimeout(tick, stepMs);
        };
        tick();
      });
      return end;
    },
  };
}
