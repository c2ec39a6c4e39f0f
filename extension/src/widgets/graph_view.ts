import { mountGraph } from "../notebook/parts";
import type { RenderProps } from "../notebook/model";

export default {
  render({ model, el }: RenderProps) {
    el.classList.add("dg-widget");
    return mountGraph(model, el);
  },
};
