import { EventFeed } from "../notebook/model";
import type { RenderProps } from "../notebook/model";
import { mountTimeline } from "../notebook/parts";

export default {
  render({ model, el }: RenderProps) {
    el.classList.add("dg-widget");
    const feed = new EventFeed(model);
    const cleanup = mountTimeline(model, el, feed);
    return () => {
      cleanup();
      feed.close();
    };
  },
};
