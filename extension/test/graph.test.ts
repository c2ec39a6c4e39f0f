import { test } from "node:test";
import assert from "node:assert/strict";
import { CELL_H, CELL_W, edgeLabel, graphGeometry, Topology } from "../src/renderers/graph";

const topology: Topology = {
  graph_id: "chat",
  nodes: [
    { id: "__start__", kind: "start" },
    { id: "agent", kind: "node", data: { name: "agent" } },
    { id: "tools", kind: "node", data: { name: "tools" } },
    { id: "__end__", kind: "end" },
  ],
  edges: [
    { source: "__start__", target: "agent", conditional: false, kind: "static" },
    { source: "agent", target: "tools", conditional: true, kind: "conditional", data: "call" },
    { source: "agent", target: "__end__", conditional: true, kind: "conditional", data: "done" },
    { source: "tools", target: "agent", conditional: false, kind: "static" },
  ],
  layout: {
    nodes: {
      __start__: { x: 0, y: 0 },
      agent: { x: 0, y: 110 },
      tools: { x: 0, y: 220 },
      __end__: { x: 0, y: 330 },
    },
    back_edges: [["tools", "agent"]],
    width: 180,
    height: 440,
  },
};

test("nodes at the layout's positions (cell centres)", () => {
  const g = graphGeometry(topology);
  const agent = g.nodes.find((n) => n.id === "agent")!;
  assert.equal(agent.cx, CELL_W / 2);
  assert.equal(agent.cy, 110 + CELL_H / 2);
  assert.deepEqual(g.nodes.map((n) => n.label), ["START", "agent", "tools", "END"]);
});

test("conditional edges are labelled, back edges go around the side", () => {
  const g = graphGeometry(topology);
  assert.equal(g.edges.length, 4);
  const call = g.edges.find((e) => e.target === "tools")!;
  assert.equal(call.label, "call");
  assert.ok(call.conditional);
  const back = g.edges.find((e) => e.source === "tools")!;
  assert.ok(back.back);
  assert.ok(g.width > 180, "the back edge widens the drawing");
  assert.equal(edgeLabel({ source: "a", target: "b", conditional: true, data: "b" }), null);
  assert.equal(edgeLabel({ source: "a", target: "b", conditional: false, data: "x" }), null);
});

test("without a layout, nodes are still placed and the input is not changed", () => {
  const bare: Topology = { nodes: topology.nodes, edges: topology.edges };
  const g = graphGeometry(bare);
  assert.equal(g.nodes.length, 4);
  assert.equal(new Set(g.nodes.map((n) => `${n.cx},${n.cy}`)).size, 4);
  assert.equal(bare.layout, undefined);
  graphGeometry(topology);
  assert.equal(Object.keys(topology.layout!.nodes).length, 4);
});
