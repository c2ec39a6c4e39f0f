// The graph topology as SVG, from the server's graph JSON (GET /assistants/{id}/graph): nodes
// at the engine's layered layout positions, edges (conditional ones dashed and labelled, loop
// "back" edges curved around the side, edges that would cross a node routed beside it, each
// with its own arrowhead), a router that may go anywhere drawn as one dashed edge to an "any
// node" marker, and a status class per node.
import { svg, clear } from "./dom";

/** A node's status (folded from a run's events by runview/status.ts, which says what each means). */
export type NodeStatus = "pending" | "running" | "done" | "failed" | "interrupted" | "cancelled";
export const NODE_STATUSES: readonly NodeStatus[] = ["pending", "running", "done", "failed", "interrupted", "cancelled"];

export interface GraphNode {
  id: string;
  kind?: string;
  type?: string;
  data?: unknown;
  metadata?: Record<string, unknown>;
  retry?: unknown;
}

export interface GraphEdge {
  source: string;
  target: string;
  conditional?: boolean;
  kind?: string;
  data?: unknown;
  label?: string;
  /** Nothing says where the router goes: it may go to any node (drawn as one edge). */
  inferred?: boolean;
  router?: string;
}

export interface LayoutPosition {
  x: number;
  y: number;
  layer?: number;
  order?: number;
}

export interface GraphLayout {
  nodes: Record<string, LayoutPosition>;
  back_edges?: [string, string][];
  width?: number;
  height?: number;
}

export interface Topology {
  graph_id?: string | null;
  version?: string | null;
  nodes: GraphNode[];
  edges: GraphEdge[];
  layout?: GraphLayout | null;
  interrupt_before?: string[];
  interrupt_after?: string[];
}

// The engine's layout grid (duragraph_lab/graph/layout.py: X_GAP, Y_GAP).
export const CELL_W = 160;
export const CELL_H = 84;
export const NODE_W = 140;
export const NODE_H = 40;
const TERMINAL_W = 90;
const TERMINAL_H = 28;

export interface PlacedNode {
  id: string;
  label: string;
  kind: string;
  cx: number;
  cy: number;
  w: number;
  h: number;
  /** A collapsed subgraph whose inner nodes the topology has (an x-ray topology): can expand. */
  expandable?: boolean;
}

/** An expanded subgraph: a labelled box around its inner nodes; ``depth`` 1 for a top-level one. */
export interface PlacedCluster {
  id: string;
  label: string;
  x: number;
  y: number;
  w: number;
  h: number;
  depth: number;
}

export interface PlacedEdge {
  source: string;
  target: string;
  kind: string;
  conditional: boolean;
  label: string | null;
  back: boolean;
  path: string;
  /** The arrowhead, a closed triangle at the path's end (its own path, not an SVG marker:
   * ``url(#id)`` markers break under JupyterLab's ``<base href>``). */
  arrow: string;
  labelX: number;
  labelY: number;
  /** An edge standing for a router's edges to every node (to an ``anywhere`` marker node). */
  anywhere?: boolean;
  /** The targets an ``anywhere`` edge stands for. */
  targets?: string[];
}

export interface Geometry {
  width: number;
  height: number;
  nodes: PlacedNode[];
  edges: PlacedEdge[];
  /** Expanded subgraphs (empty for a topology without x-ray nodes). */
  clusters: PlacedCluster[];
}

function nodeKind(node: GraphNode): string {
  if (node.kind) return node.kind;
  if (node.id === "__start__") return "start";
  if (node.id === "__end__") return "end";
  return "node";
}

function nodeLabel(node: GraphNode, kind: string): string {
  if (kind === "start") return "START";
  if (kind === "end") return "END";
  const data = node.data;
  if (data && typeof data === "object" && typeof (data as { name?: unknown }).name === "string") {
    const name = (data as { name: string }).name;
    // x-ray ids are "outer:inner": show the inner name, the id stays in the title.
    return node.id.includes(":") ? node.id : name;
  }
  return node.id;
}

export function edgeLabel(edge: GraphEdge): string | null {
  if (!edge.conditional) return null;
  const raw = edge.label ?? edge.data;
  if (raw === undefined || raw === null) return null;
  const text = typeof raw === "string" ? raw : JSON.stringify(raw);
  return text === edge.target ? null : text;
}

function bezierPoint(p0: number, p1: number, p2: number, p3: number, t: number): number {
  const u = 1 - t;
  return u * u * u * p0 + 3 * u * u * t * p1 + 3 * u * t * t * p2 + t * t * t * p3;
}

/** Where every node and edge goes; pure (no DOM), so it can be tested in Node. Nodes the
 * layout does not know (a topology without layout) go on extra rows below, left to right.
 *
 * An x-ray topology (``GET /assistants/{id}/graph?xray=true``: subgraphs' nodes as
 * ``outer:inner``) is drawn with its subgraphs collapsed to one node each, except those in
 * ``expanded``, whose inner nodes go in a labelled box; the layout is then computed here (layered,
 * like the engine's, each expanded subgraph laid out inside its box). */
export function graphGeometry(topology: Topology, expanded: Iterable<string> = []): Geometry {
  if (subgraphGroups(topology).size) return compoundGeometry(topology, new Set(expanded));
  const layout: Record<string, LayoutPosition> = { ...(topology.layout?.nodes ?? {}) };
  const backSet = new Set((topology.layout?.back_edges ?? []).map(([s, t]) => `${s}\u0000${t}`));
  let maxY = 0;
  for (const pos of Object.values(layout)) maxY = Math.max(maxY, pos.y);
  const unplaced = topology.nodes.filter((n) => !(n.id in layout));
  const perRow = Math.max(1, Math.min(4, unplaced.length));
  const extraTop = Object.keys(layout).length ? maxY + CELL_H : 0;

  const nodes: PlacedNode[] = [];
  const byId = new Map<string, PlacedNode>();
  let width = topology.layout?.width ?? 0;
  let height = topology.layout?.height ?? 0;
  unplaced.forEach((n, i) => {
    layout[n.id] = { x: (i % perRow) * CELL_W, y: extraTop + Math.floor(i / perRow) * CELL_H };
  });
  for (const node of topology.nodes) {
    const kind = nodeKind(node);
    const pos = layout[node.id];
    const terminal = kind === "start" || kind === "end";
    const placed: PlacedNode = {
      id: node.id,
      label: nodeLabel(node, kind),
      kind,
      cx: pos.x + CELL_W / 2,
      cy: pos.y + CELL_H / 2,
      w: terminal ? TERMINAL_W : NODE_W,
      h: terminal ? TERMINAL_H : NODE_H,
    };
    nodes.push(placed);
    byId.set(node.id, placed);
    width = Math.max(width, pos.x + CELL_W);
    height = Math.max(height, pos.y + CELL_H);
  }

  const placed = placeEdges(topology.edges, byId, backSet, (id) => id);
  nodes.push(...placed.markers);
  return { width: Math.max(width, placed.width), height, nodes, edges: placed.edges, clusters: [] };
}

const ANY_W = 76;
const ANY_H = 24;
const LANE_GAP = 14;
const r1 = (v: number) => Math.round(v * 10) / 10;

/** A closed triangle with its tip at (x, y), pointing from (fx, fy). */
function arrowHead(fx: number, fy: number, x: number, y: number): string {
  let dx = x - fx;
  let dy = y - fy;
  const len = Math.hypot(dx, dy) || 1;
  dx /= len;
  dy /= len;
  const bx = x - dx * 8;
  const by = y - dy * 8;
  return `M${r1(x)},${r1(y)} L${r1(bx - dy * 4)},${r1(by + dx * 4)} L${r1(bx + dy * 4)},${r1(by - dx * 4)} Z`;
}

function hits(n: PlacedNode, x: number, y: number, pad = 4): boolean {
  return Math.abs(x - n.cx) <= n.w / 2 + pad && Math.abs(y - n.cy) <= n.h / 2 + pad;
}

function placeEdges(
  topoEdges: readonly GraphEdge[],
  byId: Map<string, PlacedNode>,
  backSet: Set<string>,
  visible: (id: string) => string,
): { edges: PlacedEdge[]; width: number; markers: PlacedNode[] } {
  let width = 0;
  const edges: PlacedEdge[] = [];
  const markers: PlacedNode[] = [];
  const seen = new Set<string>();
  const all = [...byId.values()];
  // A router that may go anywhere: its edges to every node become one edge to a marker.
  const anywhere = new Map<string, { router: string | null; targets: string[] }>();
  for (const raw of topoEdges) {
    if (!raw.inferred) continue;
    const source = visible(raw.source);
    let entry = anywhere.get(source);
    if (!entry) anywhere.set(source, (entry = { router: raw.router ?? null, targets: [] }));
    const target = visible(raw.target);
    if (!entry.targets.includes(target)) entry.targets.push(target);
  }
  for (const [source, { router, targets }] of anywhere) {
    const s = byId.get(source);
    if (!s) continue;
    // Right of the source's row, so the marker never sits on a node.
    const rowRight = Math.max(...all.filter((n) => Math.abs(n.cy - s.cy) < 1).map((n) => n.cx + n.w / 2));
    // room for the router's name above the edge (10px font: ~6px a character)
    const gap = Math.max(LANE_GAP + 10, (router ?? "").length * 6 + 16);
    const m: PlacedNode = {
      id: `__anywhere__:${source}`,
      label: "any node",
      kind: "anywhere",
      cx: rowRight + gap + ANY_W / 2,
      cy: s.cy,
      w: ANY_W,
      h: ANY_H,
    };
    markers.push(m);
    width = Math.max(width, m.cx + m.w / 2 + 8);
    const beside = rowRight <= s.cx + s.w / 2 + 1; // nothing between the source and the marker
    let path: string, arrow: string, lx: number, ly: number;
    if (beside) {
      const x0 = s.cx + s.w / 2;
      const x1 = m.cx - m.w / 2;
      path = `M${r1(x0)},${r1(s.cy)} L${r1(x1)},${r1(s.cy)}`;
      arrow = arrowHead(x0, s.cy, x1, s.cy);
      lx = (x0 + x1) / 2;
      ly = s.cy - 6;
    } else {
      // Below the row (in the gap between rows) and up into the marker.
      const y0 = s.cy + s.h / 2;
      const y1 = m.cy + m.h / 2;
      const dip = Math.max(y0, y1) + 22;
      path = `M${r1(s.cx)},${r1(y0)} C${r1(s.cx)},${r1(dip)} ${r1(m.cx)},${r1(dip)} ${r1(m.cx)},${r1(y1)}`;
      arrow = arrowHead(m.cx, dip, m.cx, y1);
      lx = (s.cx + m.cx) / 2;
      ly = dip - 4;
    }
    edges.push({
      source,
      target: m.id,
      kind: "conditional",
      conditional: true,
      label: router,
      back: false,
      path,
      arrow,
      labelX: r1(lx),
      labelY: r1(ly),
      anywhere: true,
      targets,
    });
  }
  for (const raw of topoEdges) {
    if (raw.inferred) continue;
    const source = visible(raw.source);
    const target = visible(raw.target);
    // An edge inside a collapsed subgraph is not drawn.
    if (source === target && (source !== raw.source || target !== raw.target)) continue;
    const edge = source === raw.source && target === raw.target ? raw : { ...raw, source, target };
    const s = byId.get(edge.source);
    const t = byId.get(edge.target);
    if (!s || !t) continue;
    const label = edgeLabel(edge);
    const key = `${edge.source}\u0000${edge.target}\u0000${label ?? ""}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const back = backSet.has(`${edge.source}\u0000${edge.target}`) || t.cy <= s.cy;
    const others = all.filter((n) => n !== s && n !== t);
    let path: string;
    let arrow: string;
    let labelX: number;
    let labelY: number;
    if (edge.source === edge.target) {
      const x0 = s.cx + s.w / 2;
      const y0 = s.cy - 6;
      const y1 = s.cy + 6;
      path = `M${r1(x0)},${r1(y0)} C${r1(x0 + 40)},${r1(y0 - 30)} ${r1(x0 + 40)},${r1(y1 + 30)} ${r1(x0)},${r1(y1)}`;
      arrow = arrowHead(x0 + 40, y1 + 30, x0, y1);
      labelX = r1(x0 + 30);
      labelY = r1(s.cy);
      width = Math.max(width, x0 + 44);
    } else if (back) {
      // Around the right-hand side of every node in the rows it spans, source's right to target's.
      const x0 = s.cx + s.w / 2;
      const x1 = t.cx + t.w / 2;
      const top = Math.min(s.cy, t.cy) - 1;
      const bottom = Math.max(s.cy, t.cy) + 1;
      const right = Math.max(x0, x1, ...others.filter((n) => n.cy >= top && n.cy <= bottom).map((n) => n.cx + n.w / 2));
      // outside the lanes of forward edges beside those nodes (right + LANE_GAP)
      const lane = right + LANE_GAP + 22 + Math.abs(s.cy - t.cy) * 0.05;
      path = `M${r1(x0)},${r1(s.cy)} C${r1(lane)},${r1(s.cy)} ${r1(lane)},${r1(t.cy)} ${r1(x1)},${r1(t.cy)}`;
      arrow = arrowHead(lane, t.cy, x1, t.cy);
      labelX = r1(bezierPoint(x0, lane, lane, x1, 0.5));
      labelY = r1((s.cy + t.cy) / 2);
      width = Math.max(width, lane + 8);
    } else {
      const x0 = s.cx;
      const y0 = s.cy + s.h / 2;
      const x1 = t.cx;
      const y1 = t.cy - t.h / 2;
      const dy = (y1 - y0) / 2;
      const blocked = others.some((n) => {
        for (let i = 1; i < 24; i++) {
          const k = i / 24;
          if (hits(n, bezierPoint(x0, x0, x1, x1, k), bezierPoint(y0, y0 + dy, y1 - dy, y1, k))) return true;
        }
        return false;
      });
      if (!blocked) {
        path = `M${r1(x0)},${r1(y0)} C${r1(x0)},${r1(y0 + dy)} ${r1(x1)},${r1(y1 - dy)} ${r1(x1)},${r1(y1)}`;
        arrow = arrowHead(x1, y1 - dy, x1, y1);
        labelX = r1(bezierPoint(x0, x0, x1, x1, 0.5));
        labelY = r1(bezierPoint(y0, y0 + dy, y1 - dy, y1, 0.5));
      } else {
        // Down a free vertical lane beside the nodes in the rows between (the side nearer to
        // the edge's ends), with a short curve at each end in the gaps between rows.
        const between = others.filter((n) => n.cy - n.h / 2 < y1 && n.cy + n.h / 2 > y0);
        const mid = (x0 + x1) / 2;
        const lanes = [mid, ...between.flatMap((n) => [n.cx - n.w / 2 - LANE_GAP, n.cx + n.w / 2 + LANE_GAP])];
        const free = (x: number) => between.every((n) => Math.abs(x - n.cx) > n.w / 2 + LANE_GAP - 1);
        // not left of the drawing (x < 30): the lane and its label would be cut off
        const lane = lanes.filter((x) => free(x) && x >= 30).sort((a, b) => Math.abs(a - mid) - Math.abs(b - mid))[0] ?? mid;
        const bend = Math.min(26, (y1 - y0) / 3);
        const ya = y0 + bend;
        const yb = y1 - bend;
        path =
          `M${r1(x0)},${r1(y0)} C${r1(x0)},${r1(ya)} ${r1(lane)},${r1(y0)} ${r1(lane)},${r1(ya)} ` +
          `L${r1(lane)},${r1(yb)} C${r1(lane)},${r1(y1)} ${r1(x1)},${r1(yb)} ${r1(x1)},${r1(y1)}`;
        arrow = arrowHead(x1, yb, x1, y1);
        labelX = r1(lane);
        labelY = r1((ya + yb) / 2);
        width = Math.max(width, lane + 8);
      }
    }
    edges.push({
      source: edge.source,
      target: edge.target,
      kind: edge.kind ?? (edge.conditional ? "conditional" : "static"),
      conditional: Boolean(edge.conditional),
      label,
      back,
      path,
      arrow,
      labelX,
      labelY,
    });
  }
  return { edges, width, markers };
}

// -- subgraphs: collapsed or expanded -------------------------------------------------------------

/** The subgraphs an x-ray topology has, each with the ids of all its inner nodes (at any depth):
 * ``a`` and ``a:b`` for a node ``a:b:c``. Empty for a topology without x-ray nodes. */
export function subgraphGroups(topology: Topology): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const node of topology.nodes) {
    const parts = node.id.split(":");
    for (let i = 1; i < parts.length; i++) {
      const group = parts.slice(0, i).join(":");
      let members = groups.get(group);
      if (!members) groups.set(group, (members = []));
      members.push(node.id);
    }
  }
  return groups;
}

/** The id ``id`` is drawn under: its outermost collapsed subgraph, or itself. */
export function visibleNodeId(id: string, groups: ReadonlyMap<string, unknown>, expanded: ReadonlySet<string>): string {
  const parts = id.split(":");
  for (let i = 1; i < parts.length; i++) {
    const group = parts.slice(0, i).join(":");
    if (groups.has(group) && !expanded.has(group)) return group;
  }
  return id;
}

const STATUS_RANK: Record<string, number> = { failed: 4, interrupted: 3, running: 2, cancelled: 1 };

/** The status of a subgraph (collapsed node or cluster) from its own and its inner nodes': its
 * own failed, interrupted or cancelled status; else a failed, interrupted, running or cancelled
 * inner node, in that order; all done is done; some done is still running (the subgraph is
 * between steps); else the subgraph node's own status (from the outer graph's events), else
 * pending. */
export function groupStatus(own: string | undefined, inner: readonly (string | undefined)[]): string {
  if (own === "failed" || own === "interrupted" || own === "cancelled") return own;
  let worst: string | null = null;
  let done = 0;
  for (const st of inner) {
    if (st && (STATUS_RANK[st] ?? 0) > (worst ? STATUS_RANK[worst] : 0)) worst = st;
    if (st === "done") done++;
  }
  if (worst) return worst;
  if (own === "done" || (inner.length > 0 && done === inner.length)) return "done";
  if (done > 0) return "running";
  return own ?? "pending";
}

/** Each drawn node's and subgraph's status from the status by node id (subgraph nodes' ids as
 * the x-ray topology names them, ``outer:inner``; see ``drawnNodeId`` in timeline.ts). */
export function drawnStatus(
  status: Record<string, string>,
  topology: Topology,
  ids: Iterable<string>,
  groups: ReadonlyMap<string, readonly string[]> = subgraphGroups(topology),
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const id of ids) {
    const members = groups.get(id);
    out[id] = members ? groupStatus(status[id], members.map((m) => status[m])) : status[id] ?? "pending";
  }
  return out;
}

const CLUSTER_PAD = 12;
const CLUSTER_HEADER = 28;

interface LevelItem {
  id: string;
  index: number;
  w: number;
  h: number;
  group: boolean;
  inner?: LevelLayout;
}

interface LevelLayout {
  w: number;
  h: number;
  /** top-left of each item, relative to the level's origin */
  pos: Map<string, { x: number; y: number; item: LevelItem }>;
  back: Set<string>;
}

/** A layered layout of one level (the top graph, or an expanded subgraph's inside): the same
 * steps as duragraph_lab/graph/layout.py (back edges by a depth-first walk from START, layers by
 * longest path, END alone at the bottom, barycenter sweeps), with items of different sizes
 * (an expanded subgraph is a big item), each row centred. */
function layoutLevel(
  prefix: string,
  topology: Topology,
  groups: ReadonlyMap<string, unknown>,
  expanded: ReadonlySet<string>,
): LevelLayout {
  const items = new Map<string, LevelItem>();
  const itemOf = (id: string): string | null => {
    if (!id.startsWith(prefix)) return null;
    const rest = id.slice(prefix.length);
    const cut = rest.indexOf(":");
    return cut < 0 ? id : prefix + rest.slice(0, cut);
  };
  topology.nodes.forEach((node) => {
    const id = itemOf(node.id);
    if (id === null || items.has(id)) return;
    const group = groups.has(id);
    const item: LevelItem = { id, index: items.size, w: CELL_W, h: CELL_H, group };
    if (group && expanded.has(id)) {
      item.inner = layoutLevel(`${id}:`, topology, groups, expanded);
      item.w = item.inner.w + 2 * CLUSTER_PAD;
      item.h = item.inner.h + CLUSTER_HEADER + CLUSTER_PAD;
    }
    items.set(id, item);
  });
  const succ = new Map<string, string[]>([...items.keys()].map((id) => [id, []]));
  for (const e of topology.edges) {
    const a = itemOf(e.source);
    const b = itemOf(e.target);
    if (a === null || b === null || a === b || !items.has(a) || !items.has(b)) continue;
    const out = succ.get(a)!;
    if (!out.includes(b)) out.push(b);
  }
  const order = [...items.keys()];
  // Back edges: depth-first from START (or each root, in topology order).
  const back = new Set<string>();
  const state = new Map<string, number>();
  const visit = (root: string) => {
    const stack: [string, number][] = [[root, 0]];
    state.set(root, 1);
    while (stack.length) {
      const top = stack[stack.length - 1];
      const children = succ.get(top[0])!;
      if (top[1] < children.length) {
        const child = children[top[1]++];
        if (state.get(child) === 1) back.add(`${top[0]}\u0000${child}`);
        else if (!state.has(child)) {
          state.set(child, 1);
          stack.push([child, 0]);
        }
      } else {
        state.set(top[0], 2);
        stack.pop();
      }
    }
  };
  const hasPred = new Set<string>();
  for (const [a, bs] of succ) for (const b of bs) if (a !== b) hasPred.add(b);
  const start = prefix === "" && items.has("__start__") ? ["__start__"] : [];
  for (const id of [...start, ...order.filter((id) => !hasPred.has(id)), ...order]) if (!state.has(id)) visit(id);
  // Layers by longest path over the DAG (Kahn's order).
  const preds = new Map<string, string[]>(order.map((id) => [id, []]));
  for (const [a, bs] of succ) for (const b of bs) if (!back.has(`${a}\u0000${b}`)) preds.get(b)!.push(a);
  const layer = new Map<string, number>();
  const indeg = new Map(order.map((id) => [id, preds.get(id)!.length]));
  const queue = order.filter((id) => indeg.get(id) === 0);
  while (queue.length) {
    const id = queue.shift()!;
    layer.set(id, Math.max(0, ...preds.get(id)!.map((p) => (layer.get(p) ?? 0) + 1)));
    for (const b of succ.get(id)!) {
      if (back.has(`${id}\u0000${b}`)) continue;
      indeg.set(b, indeg.get(b)! - 1);
      if (indeg.get(b) === 0) queue.push(b);
    }
  }
  for (const id of order) if (!layer.has(id)) layer.set(id, 0);
  if (prefix === "" && layer.has("__end__")) {
    layer.set("__end__", Math.max(-1, ...order.filter((id) => id !== "__end__").map((id) => layer.get(id)!)) + 1);
  }
  const depth = Math.max(0, ...layer.values());
  const rows: string[][] = Array.from({ length: depth + 1 }, () => []);
  for (const id of order) rows[layer.get(id)!].push(id);
  const rank = new Map<string, number>();
  rows.forEach((row) => row.forEach((id, i) => rank.set(id, i)));
  for (let sweep = 0; sweep < 4; sweep++) {
    const down = sweep % 2 === 0;
    const range = down ? rows.map((_, i) => i).slice(1) : rows.map((_, i) => i).slice(0, -1).reverse();
    for (const r of range) {
      const near = (id: string) =>
        down ? preds.get(id)! : succ.get(id)!.filter((b) => !back.has(`${id}\u0000${b}`));
      const bary = (id: string) => {
        const ns = near(id);
        return ns.length ? ns.reduce((sum, n) => sum + rank.get(n)!, 0) / ns.length : rank.get(id)!;
      };
      const keyed = rows[r].map((id) => [bary(id), items.get(id)!.index, id] as const);
      keyed.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
      rows[r] = keyed.map((k) => k[2]);
      rows[r].forEach((id, i) => rank.set(id, i));
    }
  }
  const rowW = rows.map((row) => row.reduce((sum, id) => sum + items.get(id)!.w, 0));
  const w = Math.max(CELL_W, ...rowW);
  const pos = new Map<string, { x: number; y: number; item: LevelItem }>();
  let y = 0;
  rows.forEach((row, r) => {
    let x = (w - rowW[r]) / 2;
    let h = 0;
    for (const id of row) {
      const item = items.get(id)!;
      pos.set(id, { x, y, item });
      x += item.w;
      h = Math.max(h, item.h);
    }
    y += h;
  });
  return { w, h: Math.max(y, CELL_H), pos, back };
}

function compoundGeometry(topology: Topology, expandedIn: ReadonlySet<string>): Geometry {
  const groups = subgraphGroups(topology);
  // A subgraph inside a collapsed one is not expanded, whatever the set says.
  const expanded = new Set([...expandedIn].filter((g) => groups.has(g) && visibleNodeId(g, groups, expandedIn) === g));
  const byNode = new Map(topology.nodes.map((n) => [n.id, n]));
  const nodes: PlacedNode[] = [];
  const clusters: PlacedCluster[] = [];
  const byId = new Map<string, PlacedNode>();
  const backSet = new Set<string>();
  const place = (level: LevelLayout, ox: number, oy: number, depth: number) => {
    for (const b of level.back) backSet.add(b);
    for (const [id, { x, y, item }] of level.pos) {
      const name = id.slice(id.lastIndexOf(":") + 1);
      if (item.inner) {
        clusters.push({ id, label: name, x: ox + x + 4, y: oy + y + 4, w: item.w - 8, h: item.h - 8, depth: depth + 1 });
        place(item.inner, ox + x + CLUSTER_PAD, oy + y + CLUSTER_HEADER, depth + 1);
        continue;
      }
      const node = byNode.get(id);
      const kind = item.group ? "subgraph" : node ? nodeKind(node) : "node";
      const terminal = kind === "start" || kind === "end";
      const label = item.group ? name : node && depth > 0 ? innerName(node) : node ? nodeLabel(node, kind) : id;
      const placed: PlacedNode = {
        id,
        label,
        kind,
        cx: ox + x + CELL_W / 2,
        cy: oy + y + CELL_H / 2,
        w: terminal ? TERMINAL_W : NODE_W,
        h: terminal ? TERMINAL_H : NODE_H,
      };
      if (item.group) placed.expandable = true;
      nodes.push(placed);
      byId.set(id, placed);
    }
  };
  const top = layoutLevel("", topology, groups, expanded);
  place(top, 0, 0, 0);
  clusters.sort((a, b) => a.depth - b.depth);
  const placed = placeEdges(topology.edges, byId, backSet, (id) => visibleNodeId(id, groups, expanded));
  nodes.push(...placed.markers);
  return { width: Math.max(top.w, placed.width), height: top.h, nodes, edges: placed.edges, clusters };
}

function innerName(node: GraphNode): string {
  const data = node.data;
  if (data && typeof data === "object" && typeof (data as { name?: unknown }).name === "string") {
    return (data as { name: string }).name;
  }
  return node.id.slice(node.id.lastIndexOf(":") + 1);
}

export interface GraphOptions {
  onSelectNode?: (id: string) => void;
  /** Subgraphs drawn expanded at first (x-ray topology; the others are collapsed). */
  expanded?: Iterable<string>;
  /** Called after a subgraph was expanded or collapsed (by a click on its toggle). */
  onToggle?: (id: string, expanded: boolean) => void;
}

export interface GraphHandle {
  readonly svg: SVGSVGElement;
  setTopology(topology: Topology): void;
  setStatus(status: Record<string, string>): void;
  setSelected(id: string | null): void;
  /** Expand (true) or collapse (false) a subgraph; kept across setTopology and setStatus. */
  setExpanded(id: string, expanded: boolean): void;
  /** The subgraphs drawn expanded. */
  expanded(): string[];
}

/** Draw ``topology`` into ``container`` (replacing its content). */
export function renderGraph(
  container: Element,
  topology: Topology,
  status: Record<string, string> = {},
  options: GraphOptions = {},
): GraphHandle {
  const root = svg("svg", { class: "dg-graph", role: "img" }) as SVGSVGElement;
  let groups = new Map<string, SVGGElement>();
  let clusterEls = new Map<string, SVGGElement>();
  let currentStatus: Record<string, string> = { ...status };
  let selected: string | null = null;
  let current = topology;
  let subgraphs = subgraphGroups(topology);
  const expandedSet = new Set<string>(options.expanded ?? []);

  function paintStatus(): void {
    const drawn = drawnStatus(currentStatus, current, [...groups.keys(), ...clusterEls.keys()], subgraphs);
    for (const [id, g] of groups) {
      const st = drawn[id];
      g.setAttribute("class", `dg-node dg-kind-${g.dataset.kind} dg-status-${st}${id === selected ? " dg-selected" : ""}`);
      g.dataset.status = st;
    }
    for (const [id, g] of clusterEls) {
      const st = drawn[id];
      g.setAttribute("class", `dg-cluster dg-status-${st}`);
      g.dataset.status = st;
    }
  }

  function toggle(id: string): void {
    const open = !expandedSet.has(id);
    if (open) expandedSet.add(id);
    else expandedSet.delete(id);
    draw(current);
    options.onToggle?.(id, open);
  }

  function toggleControl(id: string, x: number, y: number, open: boolean, label: string): SVGGElement {
    const t = svg("g", { class: "dg-toggle", "data-toggle": id, role: "button", tabindex: "0" }) as SVGGElement;
    t.setAttribute("aria-label", `${open ? "collapse" : "expand"} subgraph ${label}`);
    t.setAttribute("aria-expanded", String(open));
    t.appendChild(svg("rect", { x: String(x), y: String(y), width: "14", height: "14", rx: "3" }));
    const sign = svg("text", { x: String(x + 7), y: String(y + 7) });
    sign.textContent = open ? "−" : "+";
    t.appendChild(sign);
    const handler = (ev: Event) => {
      ev.stopPropagation();
      if (ev instanceof KeyboardEvent && ev.key !== "Enter" && ev.key !== " ") return;
      ev.preventDefault();
      toggle(id);
    };
    t.addEventListener("click", handler);
    t.addEventListener("keydown", handler);
    return t;
  }

  function draw(topo: Topology): void {
    clear(root);
    groups = new Map();
    clusterEls = new Map();
    current = topo;
    subgraphs = subgraphGroups(topo);
    for (const id of [...expandedSet]) if (!subgraphs.has(id)) expandedSet.delete(id);
    const geo = graphGeometry(topo, expandedSet);
    const pad = 8;
    root.setAttribute("viewBox", `${-pad} ${-pad} ${geo.width + 2 * pad} ${geo.height + 2 * pad}`);
    root.setAttribute("width", String(geo.width + 2 * pad));
    root.setAttribute("aria-label", `graph ${topo.graph_id ?? ""}`.trim());

    // Boxes below the edges, headers (with the toggle) above them: an edge into the box never
    // covers the header, which collapses it on a click.
    const clusterLayer = svg("g", { class: "dg-clusters" });
    const headerLayer = svg("g", { class: "dg-cluster-headers" });
    for (const c of geo.clusters) {
      const g = svg("g", { "data-cluster": c.id }) as SVGGElement;
      g.appendChild(svg("rect", { x: String(c.x), y: String(c.y), width: String(c.w), height: String(c.h), rx: "8", class: "dg-cluster-box" }));
      const header = svg("g", { class: "dg-cluster-header", "data-toggle": c.id, "data-cluster-header": c.id });
      header.appendChild(svg("rect", { x: String(c.x), y: String(c.y), width: String(c.w), height: "22", rx: "8", class: "dg-cluster-head" }));
      const text = svg("text", { x: String(c.x + 26), y: String(c.y + 11), class: "dg-cluster-label" });
      text.textContent = c.label;
      const kind = svg("tspan", { class: "dg-cluster-kind", dx: "6" });
      kind.textContent = "subgraph";
      text.appendChild(kind);
      header.appendChild(text);
      header.addEventListener("click", () => toggle(c.id));
      header.appendChild(toggleControl(c.id, c.x + 6, c.y + 4, true, c.label));
      const title = svg("title");
      title.textContent = `subgraph ${c.id} (click the header to collapse)`;
      header.appendChild(title);
      clusterEls.set(c.id, g);
      clusterLayer.appendChild(g);
      headerLayer.appendChild(header);
    }
    root.appendChild(clusterLayer);

    const edgeLayer = svg("g", { class: "dg-edges" });
    for (const e of geo.edges) {
      const g = svg("g", {
        class: `dg-edge dg-edge-${e.kind}${e.conditional ? " dg-conditional" : ""}${e.back ? " dg-back" : ""}`,
        "data-source": e.source,
        "data-target": e.target,
      });
      g.appendChild(svg("path", { d: e.path }));
      g.appendChild(svg("path", { d: e.arrow, class: "dg-arrowhead" }));
      if (e.label !== null) {
        const text = svg("text", { x: String(e.labelX), y: String(e.labelY), class: "dg-edge-label" });
        text.textContent = e.label;
        g.appendChild(text);
      }
      const title = svg("title");
      title.textContent = e.anywhere
        ? `${e.source} → any node${e.label ? ` [router ${e.label}]` : ""}: nothing says where it goes (${(e.targets ?? []).join(", ")})`
        : `${e.source} → ${e.target}${e.label ? ` [${e.label}]` : ""} (${e.kind})`;
      g.appendChild(title);
      edgeLayer.appendChild(g);
    }
    root.appendChild(edgeLayer);
    root.appendChild(headerLayer);

    const nodeLayer = svg("g", { class: "dg-nodes" });
    const interruptPoints = new Set([...(topo.interrupt_before ?? []), ...(topo.interrupt_after ?? [])]);
    for (const n of geo.nodes) {
      const g = svg("g", { "data-node": n.id, "data-kind": n.kind }) as SVGGElement;
      const terminal = n.kind === "start" || n.kind === "end" || n.kind === "anywhere";
      g.appendChild(
        svg("rect", {
          x: String(n.cx - n.w / 2),
          y: String(n.cy - n.h / 2),
          width: String(n.w),
          height: String(n.h),
          rx: terminal ? String(n.h / 2) : "6",
        }),
      );
      const text = svg("text", { x: String(n.cx), y: String(n.cy), class: "dg-node-label" });
      text.textContent = n.label.length > 20 ? `${n.label.slice(0, 19)}…` : n.label;
      g.appendChild(text);
      if (interruptPoints.has(n.id) || n.kind === "subgraph") {
        const badge = svg("text", { x: String(n.cx + n.w / 2 - 10), y: String(n.cy - n.h / 2 + 11), class: "dg-badge" });
        badge.textContent = n.kind === "subgraph" ? "⧉" : "✋";
        g.appendChild(badge);
      }
      if (n.expandable) g.appendChild(toggleControl(n.id, n.cx - n.w / 2 + 4, n.cy - n.h / 2 + 4, false, n.label));
      const title = svg("title");
      title.textContent = n.expandable ? `${n.id} (subgraph: + to expand)` : n.id;
      g.appendChild(title);
      if (options.onSelectNode && !terminal) {
        g.addEventListener("click", () => options.onSelectNode?.(n.id));
      }
      groups.set(n.id, g);
      nodeLayer.appendChild(g);
    }
    root.appendChild(nodeLayer);
    paintStatus();
  }

  draw(topology);
  clear(container);
  container.appendChild(root);
  return {
    svg: root,
    setTopology(topo: Topology) {
      draw(topo);
    },
    setStatus(next: Record<string, string>) {
      currentStatus = { ...next };
      paintStatus();
    },
    setSelected(id: string | null) {
      selected = id;
      paintStatus();
    },
    setExpanded(id: string, open: boolean) {
      if (open === expandedSet.has(id)) return;
      toggle(id);
    },
    expanded() {
      return [...expandedSet];
    },
  };
}
