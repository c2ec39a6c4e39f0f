// The Playground's logic without the DOM: the input schema's form and checks, tool calls, thread
// titles, what is remembered, and the replay's frames.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { ApiEvent, Run } from "../src/dashboard/api";
import { toolCalls } from "../src/dashboard/messages";
import { replayFrames } from "../src/dashboard/pages/playground_replay";
import { firstInputs, PlaygroundMemory, threadTitle } from "../src/dashboard/pages/playground_threads";
import { toEventRow } from "../src/dashboard/pages/run";
import {
  fieldValue,
  inputTitle,
  isChatSchema,
  keyOrder,
  parseErrorText,
  propertiesOf,
  simpleFields,
  template,
  validateInput,
  type JsonSchema,
} from "../src/dashboard/schema_input";

// As the server serves a native TypedDict (jsonb order, x-order the declared one).
const ORDER: JsonSchema = {
  title: "Order",
  type: "object",
  properties: {
    log: { type: "array", items: { type: "string" }, "x-reducer": "add" },
    size: { type: "string", enum: ["small", "large"] },
    price: { type: "number" },
    express: { type: "boolean" },
    customer: { type: "string" },
    quantity: { type: "integer" },
  },
  required: [],
  "x-order": ["customer", "quantity", "price", "express", "size", "log"],
};

// As pydantic describes a LangGraph state: Optional fields, titles, $defs.
const PYDANTIC: JsonSchema = {
  title: "S",
  type: "object",
  properties: {
    name: { title: "Name", anyOf: [{ type: "string" }, { type: "null" }] },
    mode: { $ref: "#/$defs/Mode" },
    items: { title: "Items", type: "array", items: { $ref: "#/$defs/Item" } },
  },
  required: ["name"],
  $defs: {
    Mode: { title: "Mode", type: "string", enum: ["a", "b"] },
    Item: { title: "Item", type: "object", properties: { n: { type: "integer", minimum: 0 } }, required: ["n"], additionalProperties: false },
  },
};

test("properties come in the declared order (x-order), whatever order the JSON has", () => {
  assert.deepEqual(Object.keys(propertiesOf(ORDER)), ["customer", "quantity", "price", "express", "size", "log"]);
  assert.deepEqual(keyOrder(["b", "z", "a"], ["a", "b"]), ["a", "b", "z"]);
  assert.deepEqual(keyOrder(["b", "a"], undefined), ["b", "a"]);
});

test("a simple schema is a form; one with objects or unions is not", () => {
  const fields = simpleFields(ORDER)!;
  assert.deepEqual(
    fields.map((f) => [f.key, f.kind]),
    [["customer", "string"], ["quantity", "integer"], ["price", "number"], ["express", "boolean"], ["size", "enum"], ["log", "strings"]],
  );
  assert.deepEqual(fields.find((f) => f.key === "size")!.options, ["small", "large"]);
  assert.equal(simpleFields(PYDANTIC), null); // items: a list of objects
  const optional = simpleFields({ type: "object", properties: { name: PYDANTIC.properties!.name }, $defs: PYDANTIC.$defs })!;
  assert.deepEqual(optional.map((f) => [f.key, f.kind]), [["name", "string"]]); // X | None is X
  assert.equal(simpleFields({ type: "object", properties: { topic: { anyOf: [{ type: "string" }, { type: "array", items: { type: "string" } }] } } }), null);
  assert.equal(simpleFields(null), null);
});

test("chat graphs are those with messages; the form and the template leave messages to the chat box", () => {
  const chat: JsonSchema = { type: "object", properties: { messages: { type: "array", "x-reducer": "add_messages" }, draft: { type: "string" } } };
  assert.ok(isChatSchema(chat));
  assert.ok(!isChatSchema(ORDER));
  assert.deepEqual(simpleFields(chat)!.map((f) => f.key), ["draft"]);
  assert.deepEqual(template(chat), { draft: "" });
  assert.deepEqual(template(ORDER), { customer: "" }); // nothing required: the first key
  assert.deepEqual(template(PYDANTIC), { name: "" }); // the required keys
});

test("form fields parse their text, or say what is wrong", () => {
  const [customer, quantity, price, express, size, log] = simpleFields(ORDER)!;
  assert.deepEqual(fieldValue(customer, ""), {}); // empty: not sent
  assert.deepEqual(fieldValue(customer, " Ada "), { value: " Ada " });
  assert.deepEqual(fieldValue(quantity, "2"), { value: 2 });
  assert.deepEqual(fieldValue(quantity, "2.5"), { error: "must be a whole number" });
  assert.deepEqual(fieldValue(quantity, "two"), { error: "must be a whole number" });
  assert.deepEqual(fieldValue(price, "3.5"), { value: 3.5 });
  assert.deepEqual(fieldValue(price, "abc"), { error: "must be a number" });
  assert.deepEqual(fieldValue(express, "false"), { value: false });
  assert.deepEqual(fieldValue(size, "large"), { value: "large" });
  assert.deepEqual(fieldValue(log, "a\n\n b \n"), { value: ["a", "b"] });
});

test("inputs are checked against the schema, with a path and a message for each problem", () => {
  assert.deepEqual(validateInput({ customer: "Ada", quantity: 2 }, ORDER), []);
  assert.deepEqual(validateInput({}, PYDANTIC), []); // an input is a partial update: top-level required is not enforced
  assert.deepEqual(validateInput([], ORDER), [{ path: "", message: "the input must be a JSON object, not an array" }]);
  assert.deepEqual(validateInput({ quantity: 1.5, size: "huge", log: "x" }, ORDER), [
    { path: "/quantity", message: "must be an integer, not a number" },
    { path: "/size", message: 'must be one of "small", "large"' },
    { path: "/log", message: "must be an array, not a string" },
  ]);
  assert.match(validateInput({ colour: "red" }, ORDER)[0].message, /^unknown key "colour": the graph's input has "customer", "quantity"/);
  assert.deepEqual(validateInput({ name: null, mode: "c", items: [{ n: -1 }, { m: 1 }] }, PYDANTIC), [
    { path: "/mode", message: 'must be one of "a", "b"' },
    { path: "/items/0/n", message: "must be at least 0" },
    { path: "/items/1", message: '"n" is required' },
    { path: "/items/1/m", message: 'unknown key "m"' },
  ]);
  assert.deepEqual(validateInput({ name: 5 }, PYDANTIC), [{ path: "/name", message: "must be a string or a null as the schema describes" }]);
  // Messages are only checked to be a list (LangGraph's and our shapes both accept {role: ...}).
  const chat: JsonSchema = { type: "object", properties: { messages: { type: "array", items: { type: "object", required: ["type"] } } } };
  assert.deepEqual(validateInput({ messages: [{ role: "user", content: "hi" }] }, chat), []);
  assert.deepEqual(validateInput({ messages: 5 }, chat), [{ path: "/messages", message: "must be a list of messages" }]);
});

test("a JSON syntax error says where", () => {
  const text = '{\n  "a": 1,\n}';
  let err: unknown;
  try {
    JSON.parse(text);
  } catch (e) {
    err = e;
  }
  assert.match(parseErrorText(text, err), /^not valid JSON at line 3, column 1/);
});

test("tool calls are read in LangGraph's and OpenAI's shapes", () => {
  assert.deepEqual(toolCalls({ type: "ai", tool_calls: [{ id: "c1", name: "calculator", args: { expression: "6 * 7" } }] }), [
    { id: "c1", name: "calculator", args: { expression: "6 * 7" } },
  ]);
  assert.deepEqual(toolCalls({ role: "assistant", tool_calls: [{ id: "c2", function: { name: "clock", arguments: '{"tz": "UTC"}' } }] }), [
    { id: "c2", name: "clock", args: { tz: "UTC" } },
  ]);
  assert.deepEqual(toolCalls({ type: "ai", content: "hi" }), []);
});

test("threads are titled by their first message, else their first input, else their id", () => {
  const human = { thread_id: "t1", values: { messages: [{ type: "system", content: "sys" }, { type: "human", content: "what is  6 * 7" }] } };
  assert.equal(threadTitle(human), "what is 6 * 7");
  assert.equal(threadTitle({ thread_id: "t2", values: {} }, { quantity: 2, customer: "Ada" }, ["customer", "quantity"]), "customer: Ada, quantity: 2");
  assert.equal(threadTitle({ thread_id: "t3", values: null }, { messages: [{ role: "user", content: "hello" }] }), "hello");
  assert.equal(threadTitle({ thread_id: "abcdef0123", values: {} }), "thread abcdef01");
  assert.equal(threadTitle({ thread_id: "t4", metadata: { title: "named" } }), "named");
  assert.equal(inputTitle({ text: "x".repeat(100) }).length, 48);
  const run = (id: string, thread: string, at: string, input: unknown): Run =>
    ({ run_id: id, thread_id: thread, assistant_id: "a", status: "success", created_at: at, kwargs: { input } }) as Run;
  const inputs = firstInputs([run("r3", "t", "2026-01-03", { n: 3 }), run("r1", "t", "2026-01-01", null), run("r2", "t", "2026-01-02", { n: 2 })]);
  assert.deepEqual(inputs.get("t"), { n: 2 }); // the oldest run with an input (a fork or resume has none)
});

test("the last assistant and each assistant's last thread are remembered", () => {
  const data = new Map<string, string>();
  const storage = { getItem: (k: string) => data.get(k) ?? null, setItem: (k: string, v: string) => void data.set(k, v) } as Storage;
  const memory = new PlaygroundMemory(storage);
  assert.equal(memory.assistant, undefined);
  memory.remember("chat", "t1");
  memory.remember("order", "t2");
  memory.remember("chat");
  const again = new PlaygroundMemory(storage); // a reload
  assert.equal(again.assistant, "chat");
  assert.equal(again.threadOf("chat"), "t1");
  assert.equal(again.threadOf("order"), "t2");
  again.remember("order", "");
  assert.equal(again.threadOf("order"), undefined);
  data.set("duragraph.playground", "not json");
  assert.equal(new PlaygroundMemory(storage).assistant, undefined);
  assert.equal(new PlaygroundMemory(null).assistant, undefined);
});

test("a replay has one frame per status change, saying what changed", () => {
  let seq = 0;
  const ev = (type: string, data: Record<string, unknown> = {}): ApiEvent => ({ seq: ++seq, event_id: `e${seq}`, type, data, recorded_at: "2026-12-04T10:00:00+00:00" });
  const events = [
    ev("run_created"),
    ev("run_started"),
    ev("step_planned", { tasks: [{ node: "agent" }] }),
    ev("llm_call", { node: "agent" }),
    ev("node_completed", { node: "agent" }),
    ev("step_planned", { tasks: [{ node: "tools" }] }),
    ev("node_completed", { node: "tools" }),
    ev("run_completed"),
  ].map(toEventRow);
  const frames = replayFrames(events);
  assert.deepEqual(
    frames.map((f) => f.label),
    ["START done", "agent running", "agent done", "tools running", "tools done", "END done"],
  );
  assert.deepEqual(frames[3].status, { __start__: "done", agent: "done", tools: "running" });
});
