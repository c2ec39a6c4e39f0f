import { test } from "node:test";
import assert from "node:assert/strict";
import { diffJson, formatPath } from "../src/renderers/diff";

test("equal values have no changes", () => {
  assert.deepEqual(diffJson({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] }), []);
  assert.deepEqual(diffJson(null, null), []);
  assert.deepEqual(diffJson(NaN, NaN), []);
});

test("keys added, removed and changed, sorted by key", () => {
  const changes = diffJson({ a: 1, b: 2, c: { d: 1 } }, { a: 1, c: { d: 2 }, e: "x" });
  assert.deepEqual(changes, [
    { path: ["b"], op: "remove", before: 2 },
    { path: ["c", "d"], op: "change", before: 1, after: 2 },
    { path: ["e"], op: "add", after: "x" },
  ]);
});

test("an appended message is one add at the end of the list", () => {
  const before = { messages: [{ role: "user", content: "hi" }] };
  const after = { messages: [{ role: "user", content: "hi" }, { role: "ai", content: "hello" }] };
  assert.deepEqual(diffJson(before, after), [
    { path: ["messages", 1], op: "add", after: { role: "ai", content: "hello" } },
  ]);
  assert.deepEqual(diffJson(after, before), [
    { path: ["messages", 1], op: "remove", before: { role: "ai", content: "hello" } },
  ]);
});

test("a type change replaces the whole value", () => {
  assert.deepEqual(diffJson({ a: [1] }, { a: { 0: 1 } }), [
    { path: ["a"], op: "change", before: [1], after: { 0: 1 } },
  ]);
  assert.deepEqual(diffJson(1, "1"), [{ path: [], op: "change", before: 1, after: "1" }]);
});

test("paths are formatted like JavaScript accessors", () => {
  assert.equal(formatPath([]), "(root)");
  assert.equal(formatPath(["messages", 2, "content"]), "messages[2].content");
  assert.equal(formatPath(["a b", 0]), '["a b"][0]');
});
