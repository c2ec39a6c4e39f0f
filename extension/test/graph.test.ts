import { test } from "node:test";
import assert from "node:assert/strict";
import {
  CELL_H,
  CELL_W,
  drawnStatus,
  edgeLabel,
  graphGeometry,
  groupStatus,
  subgraphGroups,
  Topology,
  visibleNodeId,
} from "../src/renderers/graph";
import { drawnNodeId } from "../src/renderers/timeline";

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

// An x-ray topology (GET /assistants/{id}/graph?xray=true) of tests/api_graphs.py's `nested`:
// before -> sub (i1 -> i2) -> after.
const xray: Topology = {
  graph_id: "nested",
  nodes: [
    { id: "__start__", kind: "start" },
    { id: "before", kind: "node", data: { name: "before" } },
    { id: "sub:i1", kind: "node", data: { name: "i1" } },
    { id: "sub:i2", kind: "node", data: { name: "i2" } },
    { id: "after", kind: "node", data: { name: "after" } },
    { id: "__end__", kind: "end" },
  ],
  edges: [
    { source: "__start__", target: "before", conditional: false, kind: "static" },
    { source: "before", target: "sub:i1", conditional: false, kind: "static" },
    { source: "sub:i1", target: "sub:i2", conditional: false, kind: "static" },
    { source: "sub:i2", target: "after", conditional: false, kind: "static" },
    { source: "after", target: "__end__", conditional: false, kind: "static" },
  ],
  layout: { nodes: {}, width: 180, height: 770 },
};

test("subgraphs of an x-ray topology", () => {
  const groups = subgraphGroups(xray);
  assert.deepEqual([...groups], [["sub", ["sub:i1", "sub:i2"]]]);
  assert.equal(visibleNodeId("sub:i1", groups, new Set()), "sub");
  assert.equal(visibleNodeId("sub:i1", groups, new Set(["sub"])), "sub:i1");
  assert.equal(visibleNodeId("before", groups, new Set()), "before");
  const deep = subgraphGroups({ nodes: [{ id: "a:b:c" }, { id: "a:d" }], edges: [] });
  assert.deepEqual([...deep], [["a", ["a:b:c", "a:d"]], ["a:b", ["a:b:c"]]]);
  assert.equal(visibleNodeId("a:b:c", deep, new Set(["b", "a:b"])), "a", "inside a collapsed parent");
  assert.equal(subgraphGroups(topology).size, 0);
});

test("collapsed: one expandable node per subgraph, in a recomputed layered layout", () => {
  const g = graphGeometry(xray);
  assert.deepEqual(g.nodes.map((n) => n.id), ["__start__", "before", "sub", "after", "__end__"]);
  const sub = g.nodes.find((n) => n.id === "sub")!;
  assert.equal(sub.kind, "subgraph");
  assert.equal(sub.label, "sub");
  assert.ok(sub.expandable);
  assert.deepEqual(g.clusters, []);
  // One column, one layer each, top to bottom.
  assert.deepEqual(g.nodes.map((n) => n.cy), [0, 1, 2, 3, 4].map((i) => i * CELL_H + CELL_H / 2));
  assert.deepEqual(
    g.edges.map((e) => `${e.source}>${e.target}`),
    ["__start__>before", "before>sub", "sub>after", "after>__end__"],
    "edges to inner nodes go to the subgraph; the inner edge is not drawn",
  );
  assert.ok(g.edges.every((e) => !e.back));
  assert.equal(g.height, 5 * CELL_H);
});

test("expanded: inner nodes inside a labelled cluster box, the outer nodes moved around it", () => {
  const g = graphGeometry(xray, ["sub"]);
  assert.deepEqual(g.nodes.map((n) => n.id), ["__start__", "before", "sub:i1", "sub:i2", "after", "__end__"]);
  assert.equal(g.clusters.length, 1);
  const box = g.clusters[0];
  assert.equal(box.id, "sub");
  assert.equal(box.label, "sub");
  assert.equal(box.depth, 1);
  const inner = g.nodes.filter((n) => n.id.startsWith("sub:"));
  assert.deepEqual(inner.map((n) => n.label), ["i1", "i2"], "inner names inside the box");
  for (const n of inner) {
    assert.ok(n.cx - n.w / 2 >= box.x && n.cx + n.w / 2 <= box.x + box.w, `${n.id} inside horizontally`);
    assert.ok(n.cy - n.h / 2 >= box.y + 22 && n.cy + n.h / 2 <= box.y + box.h, `${n.id} inside vertically, below the header`);
  }
  for (const n of g.nodes.filter((n) => !n.id.startsWith("sub:"))) {
    const overlaps = n.cy + n.h / 2 > box.y && n.cy - n.h / 2 < box.y + box.h;
    assert.ok(!overlaps, `${n.id} is outside the box`);
  }
  const after = g.nodes.find((n) => n.id === "after")!;
  assert.ok(after.cy > box.y + box.h, "the layout was recomputed: after is below the box");
  assert.ok(g.height > graphGeometry(xray).height);
  assert.deepEqual(
    g.edges.map((e) => `${e.source}>${e.target}`),
    ["__start__>before", "before>sub:i1", "sub:i1>sub:i2", "sub:i2>after", "after>__end__"],
  );
  // Unknown or stale ids in the expanded set are ignored.
  assert.deepEqual(graphGeometry(xray, ["nope"]).nodes.map((n) => n.id), graphGeometry(xray).nodes.map((n) => n.id));
});

test("nested subgraphs and loops: boxes inside boxes, back edges around the side", () => {
  const topo: Topology = {
    nodes: [
      { id: "__start__", kind: "start" },
      { id: "a:x", data: { name: "x" } },
      { id: "a:b:y", data: { name: "y" } },
      { id: "a:b:z", data: { name: "z" } },
      { id: "__end__", kind: "end" },
    ],
    edges: [
      { source: "__start__", target: "a:x" },
      { source: "a:x", target: "a:b:y" },
      { source: "a:b:y", target: "a:b:z" },
      { source: "a:b:z", target: "a:b:y", conditional: true, data: "again" },
      { source: "a:b:z", target: "__end__" },
    ],
  };
  const outer = graphGeometry(topo, ["a"]);
  assert.deepEqual(outer.nodes.map((n) => n.id).sort(), ["__end__", "__start__", "a:b", "a:x"]);
  const both = graphGeometry(topo, ["a", "a:b"]);
  assert.deepEqual(both.clusters.map((c) => [c.id, c.label, c.depth]), [["a", "a", 1], ["a:b", "b", 2]]);
  const [a, b] = both.clusters;
  assert.ok(b.x >= a.x && b.y >= a.y && b.x + b.w <= a.x + a.w && b.y + b.h <= a.y + a.h, "b inside a");
  const loop = both.edges.find((e) => e.source === "a:b:z" && e.target === "a:b:y")!;
  assert.ok(loop.back && loop.label === "again");
  // Only "a:b" in the set: a is collapsed, so a:b is not drawn expanded.
  assert.deepEqual(graphGeometry(topo, ["a:b"]).clusters, []);
});

test("status of namespaced nodes: inner ids as drawn, subgraphs aggregated", () => {
  // Events inside the subgraph carry ns "sub:<task>:<attempt>|": drawn as sub:<node>.
  assert.equal(drawnNodeId("sub:7.0:1|", "i1"), "sub:i1");
  assert.equal(drawnNodeId("a:1:1|b:2:1|", "y"), "a:b:y");
  assert.equal(drawnNodeId("", "before"), "before");
  assert.equal(drawnNodeId(null, "before"), "before");
  const ids = ["before", "sub", "sub:i1", "sub:i2", "after"];
  const running = drawnStatus({ before: "done", sub: "running", "sub:i1": "done", "sub:i2": "running" }, xray, ids);
  assert.deepEqual(running, { before: "done", sub: "running", "sub:i1": "done", "sub:i2": "running", after: "pending" });
  // Between inner steps (i1 done, i2 not planned yet): still running.
  assert.equal(drawnStatus({ "sub:i1": "done" }, xray, ["sub"]).sub, "running");
  assert.equal(drawnStatus({ "sub:i1": "done", "sub:i2": "done" }, xray, ["sub"]).sub, "done");
  assert.equal(drawnStatus({ "sub:i1": "done", "sub:i2": "failed", sub: "running" }, xray, ["sub"]).sub, "failed");
  assert.equal(drawnStatus({ "sub:i1": "interrupted" }, xray, ["sub"]).sub, "interrupted");
  assert.equal(drawnStatus({}, xray, ["sub"]).sub, "pending");
  assert.equal(drawnStatus({ sub: "done" }, xray, ["sub"]).sub, "done", "the outer node_completed");
  assert.equal(groupStatus("failed", ["done", "done"]), "failed");
  // Cancelled: the subgraph node's own, or an inner node's when none is worse.
  assert.equal(groupStatus("cancelled", ["done", undefined]), "cancelled");
  assert.equal(groupStatus(undefined, ["done", "cancelled"]), "cancelled");
  assert.equal(groupStatus(undefined, ["cancelled", "failed"]), "failed");
});

// -- issue 19: conditional branches, "may go anywhere", edges around nodes, arrowheads ----------

function nodeAt(g: ReturnType<typeof graphGeometry>, id: string) {
  return g.nodes.find((n) => n.id === id)!;
}

/** Points along an SVG path of M/L/C commands (cubic segments sampled). */
function samples(path: string): [number, number][] {
  const nums = (t: string) => t.trim().split(/[ ,]+/).map(Number);
  const out: [number, number][] = [];
  let at: [number, number] = [0, 0];
  for (const m of path.matchAll(/([MLC])([^MLC]*)/g)) {
    const v = nums(m[2]);
    if (m[1] === "M" || m[1] === "L") {
      at = [v[0], v[1]];
      out.push(at);
    } else {
      for (let i = 1; i <= 20; i++) {
        const k = i / 20;
        const u = 1 - k;
        const f = (a: number, b: number, c: number, d: number) => u * u * u * a + 3 * u * u * k * b + 3 * u * k * k * c + k * k * k * d;
        out.push([f(at[0], v[0], v[2], v[4]), f(at[1], v[1], v[3], v[5])]);
      }
      at = [v[4], v[5]];
    }
  }
  return out;
}

test("a router that may go anywhere is one dashed edge to an 'any node' marker, never a self-loop", () => {
  const topo: Topology = {
    nodes: [{ id: "__start__" }, { id: "classify" }, { id: "review" }, { id: "act" }, { id: "__end__" }],
    edges: [
      { source: "__start__", target: "classify" },
      ...["classify", "review", "act", "__end__"].map((t) => ({ source: "classify", target: t, conditional: true, inferred: true, router: "route", label: t })),
      { source: "review", target: "__end__" },
      { source: "act", target: "__end__" },
    ],
    layout: {
      nodes: {
        __start__: { x: 80, y: 0 }, classify: { x: 80, y: 84 }, act: { x: 0, y: 168 }, review: { x: 160, y: 168 }, __end__: { x: 80, y: 252 },
      },
    },
  };
  const g = graphGeometry(topo);
  assert.ok(!g.edges.some((e) => e.source === e.target), "no self-loop");
  const any = g.edges.filter((e) => e.source === "classify");
  assert.equal(any.length, 1);
  assert.ok(any[0].anywhere && any[0].conditional && any[0].label === "route");
  assert.deepEqual(any[0].targets, ["classify", "review", "act", "__end__"]);
  const marker = nodeAt(g, any[0].target);
  assert.equal(marker.kind, "anywhere");
  assert.equal(marker.label, "any node");
  for (const n of g.nodes) if (n !== marker) assert.ok(Math.abs(n.cx - marker.cx) > (n.w + marker.w) / 2 || Math.abs(n.cy - marker.cy) > (n.h + marker.h) / 2, `marker clear of ${n.id}`);
  assert.ok(g.width >= marker.cx + marker.w / 2);
});

test("an edge that would cross a node goes around it, and every edge has an arrowhead at its end", () => {
  // start -> a -> b -> end, and a conditional a -> end skipping b (same column).
  const topo: Topology = {
    nodes: [{ id: "__start__" }, { id: "a" }, { id: "b" }, { id: "__end__" }],
    edges: [
      { source: "__start__", target: "a" },
      { source: "a", target: "b", conditional: true, label: "more" },
      { source: "a", target: "__end__", conditional: true, label: "done" },
      { source: "b", target: "__end__" },
    ],
    layout: { nodes: { __start__: { x: 0, y: 0 }, a: { x: 0, y: 84 }, b: { x: 0, y: 168 }, __end__: { x: 0, y: 252 } } },
  };
  const g = graphGeometry(topo);
  const b = nodeAt(g, "b");
  const skip = g.edges.find((e) => e.source === "a" && e.target === "__end__")!;
  for (const [x, y] of samples(skip.path)) {
    assert.ok(!(Math.abs(x - b.cx) < b.w / 2 && Math.abs(y - b.cy) < b.h / 2), `(${x},${y}) inside b`);
  }
  assert.equal(skip.label, "done");
  const end = nodeAt(g, "__end__");
  for (const e of g.edges) {
    const tip = e.arrow.match(/^M([-\d.]+),([-\d.]+)/)!;
    const pts = samples(e.path);
    const last = pts[pts.length - 1];
    assert.ok(Math.abs(Number(tip[1]) - last[0]) < 0.2 && Math.abs(Number(tip[2]) - last[1]) < 0.2, `${e.source}->${e.target} arrow at its end`);
  }
  assert.ok(Math.abs(skip.labelX - end.cx) > b.w / 2, "the label sits in the lane, beside b");
});
