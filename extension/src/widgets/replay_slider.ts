import { EventFeed } from "../notebook/model";
import type { RenderProps } from "../notebook/model";
import { mountReplay } from "../notebook/parts";

export default {
  render({ model, el }: RenderProps) {
    el.classList.add("dg-widget");
    const feed = new EventFeed(model);
    const cleanup = mountReplay(model, el, feed);
    return () => {
      cleanup();
      feed.close();
    };
  },
};
