import { html } from "../renderers/dom";
import { EventFeed } from "../notebook/model";
import type { RenderProps } from "../notebook/model";
import { mountRunBody, mountRunHeader } from "../notebook/parts";

export default {
  render({ model, el }: RenderProps) {
    el.classList.add("dg-widget", "dg-run-view");
    const feed = new EventFeed(model);
    const header = html("div", { class: "dg-section dg-section-run" });
    const body = html("div", { class: "dg-section-body" });
    el.append(header, body);
    const cleanups = [mountRunHeader(model, header), mountRunBody(model, body, feed)];
    return () => {
      cleanups.forEach((f) => f());
      feed.close();
    };
  },
};
