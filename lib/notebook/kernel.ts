/**
 * What a notebook needs to behave the same as a script and in Jupyter's Deno kernel: where the
 * project is (the kernel runs in notebooks/, `deno task` in the project root), and rich output
 * (HTML, SVG, in-place updates) that falls back to plain text outside the kernel.
 *
 * @module
 */
import { inJupyter } from "../runtime.ts";

interface JupyterApi {
  display(
    obj: unknown,
    opts?: { raw?: boolean; update?: boolean; display_id?: string },
  ): Promise<void>;
}

function jupyter(): JupyterApi {
  return (Deno as unknown as { jupyter: JupyterApi }).jupyter;
}

/**
 * Displays a bundle and then yields to the event loop once: Deno 2.9's kernel can otherwise
 * publish a cell's last display after the cell's idle status, and front ends drop it.
 */
async function display(
  bundle: Record<string, string>,
  opts: { display_id?: string; update?: boolean } = {},
): Promise<void> {
  await jupyter().display(bundle, { raw: true, ...opts });
  await new Promise((resolve) => setTimeout(resolve, 0));
}

/**
 * Shows rich output: in Jupyter the given MIME bundle (e.g. `{"text/html": …}`), elsewhere its
 * `text/plain` entry on stdout (nothing when it has none).
 *
 * @example
 * ```ts
 * import { show } from "./kernel.ts";
 * await show({ "text/html": "<b>42</b> orders", "text/plain": "42 orders" }); // a script: 42 orders
 * ```
 */
export async function show(bundle: Record<string, string>): Promise<void> {
  if (inJupyter()) await display(bundle);
  else if (bundle["text/plain"] !== undefined) console.log(bundle["text/plain"]);
}

/** A display that can be replaced in place (Jupyter's update_display_data). */
export interface LiveDisplay {
  /** Replaces the shown bundle (the first call shows it). */
  update(bundle: Record<string, string>): Promise<void>;
}

let liveCount = 0;

/**
 * A display updated in place in Jupyter (progress, a chart that grows per batch). Outside the
 * kernel, updates print nothing: scripts log their own progress lines.
 *
 * @example
 * ```ts
 * import { liveDisplay } from "./kernel.ts";
 * const live = liveDisplay();
 * await live.update({ "text/html": "<progress value=1 max=3></progress>" });
 * await live.update({ "text/html": "<progress value=2 max=3></progress>" }); // replaces it
 * ```
 */
export function liveDisplay(): LiveDisplay {
  const id = `live-${Date.now().toString(36)}-${++liveCount}`;
  let shown = false;
  return {
    async update(bundle) {
      if (!inJupyter()) return;
      await display(bundle, { display_id: id, update: shown });
      shown = true;
    },
  };
}

/**
 * Shows an SVG chart in Jupyter; prints nothing elsewhere (scripts show the numbers as text
 * tables and write charts to the HTML report).
 *
 * @example
 * ```ts
 * import { barChart } from "../charts.ts";
 * import { showSvg } from "./kernel.ts";
 * const bars = [{ label: "PR", value: 2271 }, { label: "CA", value: 960 }];
 * await showSvg(barChart({ title: "Orders by state", bars }));
 * ```
 */
export async function showSvg(svg: string): Promise<void> {
  if (inJupyter()) await display({ "image/svg+xml": svg });
}
