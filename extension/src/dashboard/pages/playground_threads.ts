// The Playground's threads: those of the selected assistant (its runs' threads, and the threads
// the Playground created for it that have no run yet), titled by their first message or first
// input; and what the Playground remembers across reloads (the last assistant, and the last
// thread of each assistant) in localStorage.
import type { Api, Run, Thread } from "../api";
import { inputTitle } from "../schema_input";
import { messageRole, messageText, shortId, type ChatMessage } from "../ui";

export interface TitledThread {
  thread: Thread;
  title: string;
}

/** A thread's title: its first human message, else the first input of its runs, else its id. */
export function threadTitle(thread: Thread, firstInput?: unknown, order?: readonly string[]): string {
  const values = thread.values && typeof thread.values === "object" ? thread.values : {};
  const messages = Array.isArray((values as { messages?: unknown }).messages) ? ((values as { messages: ChatMessage[] }).messages) : [];
  const first = messages.find((m) => m && typeof m === "object" && messageRole(m) === "user");
  const fromMessage = first ? messageText(first.content).replace(/\s+/g, " ").trim() : "";
  if (fromMessage) return fromMessage.length > 48 ? `${fromMessage.slice(0, 47)}…` : fromMessage;
  const fromInput = firstInput === undefined || firstInput === null ? "" : inputTitle(firstInput, 48, order);
  if (fromInput) return fromInput;
  const named = thread.metadata?.title;
  return typeof named === "string" && named ? named : `thread ${shortId(thread.thread_id)}`;
}

/** The first input of each thread among `runs` (a run with no input, a fork or a resume, is skipped). */
export function firstInputs(runs: readonly Run[]): Map<string, unknown> {
  const oldestFirst = [...runs].sort((a, b) => Date.parse(a.created_at) - Date.parse(b.created_at));
  const out = new Map<string, unknown>();
  for (const r of oldestFirst) {
    const input = (r as { kwargs?: { input?: unknown } }).kwargs?.input;
    if (!out.has(r.thread_id) && input !== undefined && input !== null) out.set(r.thread_id, input);
  }
  return out;
}

/** The threads of an assistant, most recently updated first, with their titles (an input's keys
 * in `order`: the input schema's). */
export async function assistantThreads(api: Api, assistantId: string, order?: readonly string[], limit = 30): Promise<TitledThread[]> {
  const [runs, created] = await Promise.all([
    api.post<Run[]>("runs/search", { assistant_id: assistantId, limit: 500, sort_by: "created_at", sort_order: "desc" }),
    api.post<Thread[]>("threads/search", { metadata: { assistant_id: assistantId }, limit, sort_by: "updated_at", sort_order: "desc" }),
  ]);
  const ids = [...new Set([...runs.map((r) => r.thread_id), ...created.map((t) => t.thread_id)])];
  if (!ids.length) return [];
  const threads = await api.post<Thread[]>("threads/search", { ids: ids.slice(0, 200), limit: Math.min(limit, 200), sort_by: "updated_at", sort_order: "desc" });
  const inputs = firstInputs(runs);
  return threads.map((thread) => ({ thread, title: threadTitle(thread, inputs.get(thread.thread_id), order) }));
}

// -- remembered across reloads -----------------------------------------------------------------
const KEY = "duragraph.playground";

interface Memory {
  assistant?: string;
  threads?: Record<string, string>;
}

function load(storage: Storage | null): Memory {
  try {
    const parsed = JSON.parse(storage?.getItem(KEY) ?? "{}") as unknown;
    return parsed && typeof parsed === "object" ? (parsed as Memory) : {};
  } catch {
    return {};
  }
}

function save(storage: Storage | null, memory: Memory): void {
  try {
    storage?.setItem(KEY, JSON.stringify(memory));
  } catch {
    // storage full or refused (private mode): the Playground just forgets
  }
}

function storageOf(): Storage | null {
  try {
    return typeof localStorage === "undefined" ? null : localStorage;
  } catch {
    return null;
  }
}

/** What the Playground remembers: the last assistant, and each assistant's last thread. */
export class PlaygroundMemory {
  constructor(private readonly storage: Storage | null = storageOf()) {}

  get assistant(): string | undefined {
    return load(this.storage).assistant;
  }

  threadOf(assistantId: string): string | undefined {
    return load(this.storage).threads?.[assistantId];
  }

  remember(assistantId: string, threadId?: string): void {
    const m = load(this.storage);
    m.assistant = assistantId;
    if (threadId !== undefined) {
      m.threads = { ...(m.threads ?? {}) };
      if (threadId) m.threads[assistantId] = threadId;
      else delete m.threads[assistantId];
    }
    save(this.storage, m);
  }
}
