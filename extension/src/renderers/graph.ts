// The graph topology as SVG, from the server's graph JSON (GET /assistants/{id}/graph): nodes
// at the engine's layered layout positions, edges (conditional ones dashed and labelled, loop
// "back" edges curved around the side), and a status class per node.
import { svg, clear } from "./dom";

export type NodeStatus = "pending" | "running" | "done" | "failed" | "interrupted";
export const NODE_STATUSES: readonly NodeStatus[] = ["pending", "running", "done", "failed", "interrupted"];

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
export const CELL_W = 180;
export const CELL_H = 110;
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
}

export interface PlacedEdge {
  source: string;
  target: string;
  kind: string;
  conditional: boolean;
  label: string | null;
  back: boolean;
  path: string;
  labelX: number;
  labelY: number;
}

export interface Geometry {
  width: number;
  height: number;
  nodes: PlacedNode[];
  edges: PlacedEdge[];
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
 * layout does not know (a topology without layout) go on extra rows below, left to right. */
export function graphGeometry(topology: Topology): Geometry {
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

  const edges: PlacedEdge[] = [];
  const seen = new Set<string>();
  for (const edge of topology.edges) {
    const s = byId.get(edge.source);
    const t = byId.get(edge.target);
    if (!s || !t) continue;
    const label = edgeLabel(edge);
    const key = `${edge.source}\u0000${edge.target}\u0000${label ?? ""}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const back = backSet.has(`${edge.source}\u0000${edge.target}`) || t.cy <= s.cy;
    let x0: number, y0: number, c1x: number, c1y: number, c2x: number, c2y: number, x1: number, y1: number;
    if (edge.source === edge.target) {
      x0 = s.cx + s.w / 2;
      y0 = s.cy - 6;
      x1 = s.cx + s.w / 2;
      y1 = s.cy + 6;
      c1x = x0 + 40;
      c1y = y0 - 30;
      c2x = x1 + 40;
      c2y = y1 + 30;
    } else if (back) {
      // Around the right-hand side, from the source's right edge to the target's.
      x0 = s.cx + s.w / 2;
      y0 = s.cy;
      x1 = t.cx + t.w / 2;
      y1 = t.cy;
      const bulge = 50 + Math.abs(s.cy - t.cy) * 0.15;
      c1x = Math.max(x0, x1) + bulge;
      c1y = y0;
      c2x = Math.max(x0, x1) + bulge;
      c2y = y1;
      width = Math.max(width, Math.max(x0, x1) + bulge);
    } else {
      x0 = s.cx;
      y0 = s.cy + s.h / 2;
      x1 = t.cx;
      y1 = t.cy - t.h / 2;
      const dy = (y1 - y0) / 2;
      c1x = x0;
      c1y = y0 + dy;
      c2x = x1;
      c2y = y1 - dy;
    }
    const r = (v: number) => Math.round(v * 10) / 10;
    edges.push({
      source: edge.source,
      target: edge.target,
      kind: edge.kind ?? (edge.conditional ? "conditional" : "static"),
      conditional: Boolean(edge.conditional),
      label,
      back,
      path: `M${r(x0)},${r(y0)} C${r(c1x)},${r(c1y)} ${r(c2x)},${r(c2y)} ${r(x1)},${r(y1)}`,
      labelX: r(bezierPoint(x0, c1x, c2x, x1, 0.5)),
      labelY: r(bezierPoint(y0, c1y, c2y, y1, 0.5)),
    });
  }
  return { width, height, nodes, edges };
}

export interface GraphOptions {
  onSelectNode?: (id: string) => void;
}

export interface GraphHandle {
  readonly svg: SVGSVGElement;
  setTopology(topology: Topology): void;
  setStatus(status: Record<string, string>): void;
  setSelected(id: string | null): void;
}

let markerCounter = 0;

/** Draw ``topology`` into ``container`` (replacing its content). */
export function renderGraph(
  container: Element,
  topology: Topology,
  status: Record<string, string> = {},
  options: GraphOptions = {},
): GraphHandle {
  const root = svg("svg", { class: "dg-graph", role: "img" }) as SVGSVGElement;
  const markerId = `dg-arrow-${++markerCounter}`;
  let groups = new Map<string, SVGGElement>();
  let currentStatus: Record<string, string> = { ...status };
  let selected: string | null = null;

  function paintStatus(): void {
    for (const [id, g] of groups) {
      const st = currentStatus[id] ?? "pending";
      g.setAttribute("class", `dg-node dg-kind-${g.dataset.kind} dg-status-${st}${id === selected ? " dg-selected" : ""}`);
      g.dataset.status = st;
    }
  }

  function draw(topo: Topology): void {
    clear(root);
    groups = new Map();
    const geo = graphGeometry(topo);
    const pad = 8;
    root.setAttribute("viewBox", `${-pad} ${-pad} ${geo.width + 2 * pad} ${geo.height + 2 * pad}`);
    root.setAttribute("width", String(geo.width + 2 * pad));
    root.setAttribute("aria-label", `graph ${topo.graph_id ?? ""}`.trim());
    const defs = svg("defs");
    const marker = svg("marker", {
      id: markerId,
      viewBox: "0 0 10 10",
      refX: "9",
      refY: "5",
      markerWidth: "7",
      markerHeight: "7",
      orient: "auto-start-reverse",
    });
    marker.appendChild(svg("path", { d: "M0,0 L10,5 L0,10 z", class: "dg-arrowhead" }));
    defs.appendChild(marker);
    root.appendChild(defs);

    const edgeLayer = svg("g", { class: "dg-edges" });
    for (const e of geo.edges) {
      const g = svg("g", {
        class: `dg-edge dg-edge-${e.kind}${e.conditional ? " dg-conditional" : ""}${e.back ? " dg-back" : ""}`,
        "data-source": e.source,
        "data-target": e.target,
      });
      g.appendChild(svg("path", { d: e.path, "marker-end": `url(#${markerId})` }));
      if (e.label !== null) {
        const text = svg("text", { x: String(e.labelX), y: String(e.labelY), class: "dg-edge-label" });
        text.textContent = e.label;
        g.appendChild(text);
      }
      const title = svg("title");
      title.textContent = `${e.source} → ${e.target}${e.label ? ` [${e.label}]` : ""} (${e.kind})`;
      g.appendChild(title);
      edgeLayer.appendChild(g);
    }
    root.appendChild(edgeLayer);

    const nodeLayer = svg("g", { class: "dg-nodes" });
    const interruptPoints = new Set([...(topo.interrupt_before ?? []), ...(topo.interrupt_after ?? [])]);
    for (const n of geo.nodes) {
      const g = svg("g", { "data-node": n.id, "data-kind": n.kind }) as SVGGElement;
      const terminal = n.kind === "start" || n.kind === "end";
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
      const title = svg("title");
      title.textContent = n.id;
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
  };
}
