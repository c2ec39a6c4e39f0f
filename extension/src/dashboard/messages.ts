// A conversation as the pages show it: one bubble per message, and each tool call of an assistant
// message as a card (the tool's name, its arguments, and the result its tool message brought
// back, matched by tool_call_id), instead of the raw JSON of the calls.
import { preview } from "../renderers/dom";
import { ensurePlaygroundStyles } from "./pages/playground_style";
import { h, messageRole, messageText, type ChatMessage } from "./ui";

export interface ToolCall {
  id?: string;
  name: string;
  args: unknown;
}

/** The tool calls of a message in LangGraph's (`{name, args, id}`) or OpenAI's
 * (`{function: {name, arguments}}`) shape. */
export function toolCalls(m: ChatMessage): ToolCall[] {
  const out: ToolCall[] = [];
  for (const raw of Array.isArray(m.tool_calls) ? m.tool_calls : []) {
    if (!raw || typeof raw !== "object") continue;
    const c = raw as { id?: unknown; name?: unknown; args?: unknown; function?: { name?: unknown; arguments?: unknown } };
    const name = typeof c.name === "string" ? c.name : typeof c.function?.name === "string" ? c.function.name : "tool";
    let args: unknown = c.args ?? c.function?.arguments ?? {};
    if (typeof args === "string") {
      try {
        args = JSON.parse(args) as unknown;
      } catch {
        // arguments that are not JSON are shown as they are
      }
    }
    out.push({ id: typeof c.id === "string" ? c.id : undefined, name, args });
  }
  return out;
}

function argumentRows(args: unknown): HTMLElement {
  if (args && typeof args === "object" && !Array.isArray(args)) {
    const entries = Object.entries(args as Record<string, unknown>);
    if (!entries.length) return h("div", { class: "dg-tool-args dg-muted" }, "no arguments");
    return h(
      "dl",
      { class: "dg-tool-args" },
      ...entries.flatMap(([k, v]) => [h("dt", {}, k), h("dd", { "data-arg": k }, typeof v === "string" ? v : preview(v, 400))]),
    );
  }
  return h("pre", { class: "dg-tool-args" }, typeof args === "string" ? args : preview(args, 400));
}

function toolCard(call: ToolCall, result: ChatMessage | undefined): HTMLElement {
  const failed = result && (result as { status?: unknown }).status === "error";
  return h(
    "div",
    { class: `dg-tool-card${failed ? " dg-tool-failed" : ""}`, "data-tool-card": call.name, ...(call.id ? { "data-tool-call-id": call.id } : {}) },
    h("div", { class: "dg-tool-head" }, h("span", { class: "dg-tool-badge" }, "tool"), h("span", { class: "dg-tool-name" }, call.name)),
    argumentRows(call.args),
    h(
      "div",
      { class: "dg-tool-result", "data-tool-result": result ? "done" : "pending" },
      h("span", { class: "dg-tool-label" }, failed ? "error" : "result"),
      result ? h("span", { class: "dg-tool-output" }, messageText(result.content)) : h("span", { class: "dg-muted" }, "waiting for the tool…"),
    ),
  );
}

/** Draw `messages` into `container`: tool messages answered by a card are not drawn again. */
export function renderMessages(container: HTMLElement, messages: readonly ChatMessage[]): void {
  ensurePlaygroundStyles(container);
  const results = new Map<string, ChatMessage>();
  for (const m of messages) {
    const id = (m as { tool_call_id?: unknown }).tool_call_id;
    if (messageRole(m) === "tool" && typeof id === "string") results.set(id, m);
  }
  const shown = new Set<ChatMessage>();
  const rows: HTMLElement[] = [];
  for (const m of messages) {
    const role = messageRole(m);
    if (role === "tool" && shown.has(m)) continue;
    const calls = toolCalls(m);
    const text = messageText(m.content);
    const cards = calls.map((c) => {
      const result = c.id ? results.get(c.id) : undefined;
      if (result) shown.add(result);
      return toolCard(c, result);
    });
    const body = text || !calls.length ? [h("div", { class: "dg-msg-body" }, text)] : [];
    rows.push(
      h(
        "div",
        { class: `dg-msg dg-msg-${role}${calls.length ? " dg-msg-calls" : ""}`, "data-role": role, ...(m.id ? { "data-id": m.id } : {}) },
        h("div", { class: "dg-msg-role" }, calls.length && !text ? `${role} · calls ${calls.length === 1 ? "a tool" : `${calls.length} tools`}` : role),
        ...body,
        ...cards,
      ),
    );
  }
  container.replaceChildren(...rows);
}
