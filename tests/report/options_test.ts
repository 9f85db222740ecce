import assert from "node:assert/strict";
import { ConfigError } from "../../lib/config.ts";
import { DEFAULT_REPORT_FILE, parseReportOptions } from "../../lib/report/options.ts";

Deno.test("report options: the latest version to test-output/report.html by default", () => {
  assert.deepEqual(parseReportOptions({}), {
    version: undefined,
    out: DEFAULT_REPORT_FILE,
    json: false,
  });
  assert.equal(DEFAULT_REPORT_FILE, "test-output/report.html");
});

Deno.test("report options: --version time-travels, --out and --json are read", () => {
  assert.deepEqual(parseReportOptions({ version: "0", out: "v0.html", json: true }), {
    version: 0,
    out: "v0.html",
    json: true,
  });
  assert.equal(parseReportOptions({ version: "12" }).version, 12);
});

Deno.test("report options: a --version that is not a table version is a ConfigError", () => {
  for (const version of ["latest", "-1", "1.5", ""]) {
    assert.throws(() => parseReportOptions({ version }), ConfigError, version);
  }
});
