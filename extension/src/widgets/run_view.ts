import { html } from "../renderers/dom";
import { EventFeed } from "../notebook/model";
import type { RenderProps } from "../notebook/model";
import { mountGraph, mountReplay, mountRunHeader, mountTimeline } from "../notebook/parts";

export default {
  render({ model, el }: RenderProps) {
    el.classList.add("dg-widget", "dg-run-view");
    const feed = new EventFeed(model);
    const header = html("div", { class: "dg-section dg-section-run" });
    const top = html("div", { class: "dg-run-body" });
    const graph = html("div", { class: "dg-section dg-section-graph" });
    const timeline = html("div", { class: "dg-section dg-section-timeline" });
    const replay = html("div", { class: "dg-section dg-section-replay" });
    top.append(graph, timeline);
    el.append(header, top, replay);
    const cleanups = [
      mountRunHeader(model, header),
      mountGraph(model, graph),
      mountTimeline(model, timeline, feed),
      mountReplay(model, replay, feed),
    ];
    return () => {
      cleanups.forEach((f) => f());
      feed.close();
    };
  },
};
