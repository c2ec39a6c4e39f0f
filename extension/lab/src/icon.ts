import { LabIcon } from "@jupyterlab/ui-components";
import type { PageName } from "../../src/dashboard/contract";

// Small 24x24 drawings in the theme's icon colour (class jp-icon3 follows light/dark themes).
const svg = (body: string): string =>
  `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24"><g class="jp-icon3" fill="#616161">${body}</g></svg>`;

/** A graph: three nodes, two edges (the DuraGraph panel, the Assistants page, tabs). */
export const duragraphIcon = new LabIcon({
  name: "duragraph-lab:graph",
  svgstr: svg(
    '<circle cx="5" cy="6" r="3"/><circle cx="19" cy="6" r="3"/><circle cx="12" cy="19" r="3"/>' +
      '<path d="M6.6 8.3 10.6 16.4l1.6-.8L8.2 7.5zM17.4 8.3l-4 8.1-1.6-.8 4-8.1z"/>',
  ),
});

const playgroundIcon = new LabIcon({
  name: "duragraph-lab:playground",
  svgstr: svg('<path d="M3 4h18v12H9l-5 4v-4H3zM6 8v2h12V8zm0 4v1h8v-1z" fill-rule="evenodd"/>'),
});
const runsIcon = new LabIcon({
  name: "duragraph-lab:runs",
  svgstr: svg('<path d="M3 4l6 4-6 4zM11 6h10v2H11zM3 14l6 4-6 4zM11 16h10v2H11z"/>'),
});
const threadsIcon = new LabIcon({
  name: "duragraph-lab:threads",
  svgstr: svg('<path d="M2 3h13v9H7l-3 3v-3H2zM17 8h5v9h-2v3l-3-3H9v-3h8z"/>'),
});
const tracesIcon = new LabIcon({
  name: "duragraph-lab:traces",
  svgstr: svg('<path d="M2 4h12v3H2zM6 9h10v3H6zM9 14h7v3H9zM14 19h8v3h-8z"/>'),
});

/** A clock: scheduled runs (the Crons page). */
const cronsIcon = new LabIcon({
  name: "duragraph-lab:crons",
  svgstr: svg(
    '<path d="M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm0 2a8 8 0 1 1 0 16 8 8 0 0 1 0-16zM11 6v7l5 3 1-1.7-4-2.4V6z"/>',
  ),
});

const datasetsIcon = new LabIcon({
  name: "duragraph-lab:datasets",
  svgstr: svg(
    '<path d="M12 2C7 2 4 3.6 4 5.5v13C4 20.4 7 22 12 22s8-1.6 8-3.5v-13C20 3.6 17 2 12 2zm0 2c3.9 0 6 1.1 6 1.5S15.9 7 12 7 6 5.9 6 5.5 8.1 4 12 4zM6 8.3C7.5 8.8 9.6 9 12 9s4.5-.2 6-.7v3.2c0 .4-2.1 1.5-6 1.5s-6-1.1-6-1.5zm0 6c1.5.5 3.6.7 6 .7s4.5-.2 6-.7v4.2c0 .4-2.1 1.5-6 1.5s-6-1.1-6-1.5z"/>',
  ),
});

export const PAGE_ICONS: Record<PageName, LabIcon> = {
  playground: playgroundIcon,
  runs: runsIcon,
  datasets: datasetsIcon,
  crons: cronsIcon,
  threads: threadsIcon,
  assistants: duragraphIcon,
  traces: tracesIcon,
  run: runsIcon,
};
