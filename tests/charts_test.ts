import assert from "node:assert/strict";
import {
  barChart,
  columnChart,
  histogram,
  histogramBins,
  lineChart,
  niceTicks,
  shareDonut,
} from "../lib/charts.ts";

function count(s: string, re: RegExp): number {
  return (s.match(re) ?? []).length;
}

Deno.test("barChart: one bar per entry, longest bar for the largest value, text escaped", () => {
  const svg = barChart({
    title: "A <b> & c",
    bars: [{ label: "x<y", value: 10 }, { label: "z", value: 40, highlight: true }],
  });
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.match(svg, /<\/svg>$/);
  assert.ok(svg.includes("A &lt;b&gt; &amp; c") && svg.includes("x&lt;y"));
  assert.ok(!svg.includes("<b>"));
  const widths = [...svg.matchAll(/<rect x="[\d.]+" y="[\d.]+" width="([\d.]+)"/g)].map((m) =>
    Number(m[1])
  );
  assert.equal(widths.length, 2);
  assert.ok(Math.abs(widths[1] / widths[0] - 4) < 0.05, `widths ${widths}`);
  assert.equal(count(svg, /fill="#e0603a"/g), 1);
});

Deno.test("histogramBins: equal-width bins from 0, the maximum in the last bin", () => {
  assert.deepEqual(histogramBins([5, 12, 48, 50, 99.9], 50), [
    { from: 0, to: 50, count: 3 },
    { from: 50, to: 100, count: 2 },
  ]);
  assert.deepEqual(histogramBins([], 10), []);
  assert.throws(() => histogramBins([1], 0), RangeError);
});

Deno.test("histogram and lineChart: a column per bin, a circle per point", () => {
  const h = histogram({ title: "h", bins: histogramBins([1, 2, 3, 150, 250], 100) });
  assert.equal(count(h, /<rect x="[\d.]+" y="[\d.]+" width=/g), 3);
  const l = lineChart({
    title: "l",
    series: [{ name: "a", points: [{ x: 0, y: 1 }, { x: 1, y: 3 }, { x: 2, y: 2 }] }],
  });
  assert.equal(count(l, /<circle /g), 3);
  assert.ok(!/>0\.5</.test(l), "integer x values get integer ticks");
});

Deno.test("niceTicks and shareDonut", () => {
  assert.deepEqual(niceTicks(2281), [0, 500, 1000, 1500, 2000, 2500]);
  assert.deepEqual(niceTicks(0), [0, 1]);
  assert.match(shareDonut({ title: "s", part: 145, whole: 6000, caption: "c" }), />2\.42%</);
});

Deno.test("columnChart: a column per value, heights in proportion, labels thinned when narrow", () => {
  const svg = columnChart({
    title: "t",
    columns: [{ label: "0", value: 1000 }, { label: "1", value: 4000 }],
  });
  const heights = [...svg.matchAll(/<rect x="[\d.]+" y="[\d.]+" width="[\d.]+" height="([\d.]+)"/g)]
    .map((m) => Number(m[1]));
  assert.equal(heights.length, 2);
  assert.ok(Math.abs(heights[1] / heights[0] - 4) < 0.05, `heights ${heights}`);
  const many = columnChart({
    title: "t",
    columns: Array.from({ length: 100 }, (_, i) => ({ label: String(i), value: i })),
  });
  assert.equal((many.match(/<rect x=/g) ?? []).length, 100);
  assert.ok((many.match(/text-anchor="middle" fill="#7b8794"/g) ?? []).length < 20);
});
