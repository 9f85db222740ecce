/**
 * Renders a local HTML file in headless Chromium (Debian's package): a screenshot, the DOM after
 * load, and the console messages and page errors Chromium logged. Chromium runs with a fresh
 * profile, no background services and a proxy that refuses everything, so the page renders as
 * it would offline.
 *
 * @module
 */

/** What a render produced. */
export interface RenderResult {
  /** Chromium's exit code for the screenshot run. */
  code: number;
  /** The serialized DOM after load (`--dump-dom`). */
  dom: string;
  /** Console messages, uncaught errors and failed loads Chromium logged for the page. */
  pageErrors: string[];
}

/** The flags of every headless run: no background services, no network but what is allowed. */
export const CHROMIUM_FLAGS: readonly string[] = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-extensions",
  "--hide-scrollbars",
  // Any http(s) request from the page fails: charts must not need the network.
  "--proxy-server=http://127.0.0.1:9",
  "--proxy-bypass-list=<-loopback>",
  "--enable-logging=stderr",
  "--v=0",
];

async function chromium(
  path: string,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const profile = await Deno.makeTempDir({ prefix: "chromium-profile-" });
  try {
    const out = await new Deno.Command(path, {
      args: [...CHROMIUM_FLAGS, `--user-data-dir=${profile}`, ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  } finally {
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  }
}

/** Console messages, uncaught errors and failed loads among Chromium's stderr lines. */
export function pageErrors(stderr: string): string[] {
  // Page console output is logged as `CONSOLE(...)` / `:CONSOLE:` lines; uncaught errors as
  // "Uncaught ..."; failed loads as net::ERR_*.
  return stderr.split("\n").filter((l) =>
    /CONSOLE|Uncaught|net::ERR_|Failed to load resource/i.test(l) && !/dbus|DBus/.test(l)
  );
}

/**
 * Screenshots `file` (absolute path) into `png` at `width`×`height` and dumps its DOM.
 *
 * @example
 * ```ts
 * const r = await renderPage("/usr/bin/chromium", "/tmp/report.html", "/tmp/report.png");
 * ```
 */
export async function renderPage(
  chromiumPath: string,
  file: string,
  png: string,
  size = { width: 1280, height: 2200 },
): Promise<RenderResult> {
  const url = `file://${file}`;
  const shot = await chromium(chromiumPath, [
    `--screenshot=${png}`,
    `--window-size=${size.width},${size.height}`,
    url,
  ]);
  const dump = await chromium(chromiumPath, ["--dump-dom", url]);
  return {
    code: shot.code,
    dom: dump.stdout,
    pageErrors: [...pageErrors(shot.stderr), ...pageErrors(dump.stderr)],
  };
}
