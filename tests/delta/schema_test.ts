import assert from "node:assert/strict";
import * as arrow from "apache-arrow";
import {
  leafColumns,
  parseSchemaString,
  SchemaError,
  schemaFeatures,
  schemaToString,
  toArrowSchema,
  toDeltaSchema,
} from "../../lib/delta/schema.ts";
import { ALL_TYPES_SCHEMA } from "../support/delta_fixtures.ts";

const field = (name: string, type: unknown, nullable = true) => ({
  name,
  type,
  nullable,
  metadata: {},
});

Deno.test("Spark JSON schema round trips through Arrow with exact key sets", () => {
  const json = JSON.stringify({
    type: "struct",
    fields: [
      field("id", "long", false),
      field("i", "integer"),
      field("sh", "short"),
      field("by", "byte"),
      field("d", "double"),
      field("f", "float"),
      field("s", "string"),
      field("b", "boolean"),
      field("bin", "binary"),
      field("dt", "date"),
      field("ts", "timestamp"),
      field("amount", "decimal(10,2)"),
      field("addr", { type: "struct", fields: [field("zip", "string")] }),
      field("tags", { type: "array", elementType: "string", containsNull: true }),
      field("attrs", {
        type: "map",
        keyType: "string",
        valueType: "long",
        valueContainsNull: true,
      }),
      field("items", {
        type: "array",
        elementType: { type: "struct", fields: [field("sku", "string"), field("qty", "integer")] },
        containsNull: false,
      }),
    ],
  });
  const schema = parseSchemaString(json);
  assert.equal(schemaToString(schema), json);
  const a = toArrowSchema(schema);
  assert.deepEqual(a.fields.map((f) => String(f.type)).slice(0, 12), [
    "Int64",
    "Int32",
    "Int16",
    "Int8",
    "Float64",
    "Float32",
    "Utf8",
    "Bool",
    "Binary",
    "Date32<DAY>",
    "Timestamp<MICROSECOND, UTC>",
    "Decimal[10e+2]",
  ]);
  assert.equal(a.fields[0].nullable, false);
  assert.equal((a.fields[13].type as arrow.List).children[0].name, "element");
  assert.deepEqual(toDeltaSchema(a), schema);
  assert.equal(schemaToString(toDeltaSchema(a)), json);
  assert.deepEqual(schemaFeatures(schema), []);
});

Deno.test("parse rejects extra or missing keys and unknown types", () => {
  const bad = [
    { type: "struct", fields: [{ name: "a", type: "long", nullable: true }] }, // no metadata
    { type: "struct", fields: [{ ...field("a", "long"), comment: "x" }] },
    { type: "struct", fields: [field("a", { type: "array", elementType: "long" })] }, // no containsNull
    {
      type: "struct",
      fields: [
        field("a", { type: "array", elementType: "long", containsNull: true, nullable: true }),
      ],
    },
    { type: "struct", fields: [field("a", "varchar")] },
    { type: "struct", fields: [field("a", "decimal(40,2)")] },
  ];
  for (const b of bad) {
    assert.throws(() => parseSchemaString(JSON.stringify(b)), SchemaError, JSON.stringify(b));
  }
  assert.throws(() => parseSchemaString("{nope"), /not valid JSON/);
  // Spark's spelling variants normalise to decimal(p,s).
  const s = parseSchemaString(
    JSON.stringify({ type: "struct", fields: [field("a", "decimal(5, 1)")] }),
  );
  assert.equal(s.fields[0].type, "decimal(5,1)");
});

Deno.test("timestamp_ntz maps to a tz-less µs timestamp and needs the timestampNtz feature", () => {
  const a = new arrow.Schema([new arrow.Field("t", new arrow.TimestampMicrosecond())]);
  const s = toDeltaSchema(a);
  assert.equal(s.fields[0].type, "timestamp_ntz");
  assert.deepEqual(schemaFeatures(s), ["timestampNtz"]);
  const back = toArrowSchema(s).fields[0].type as arrow.Timestamp;
  assert.equal(back.timezone ?? null, null);
});

Deno.test("unsupported Arrow types are rejected naming the column", () => {
  const cases: Array<[arrow.DataType, RegExp]> = [
    [new arrow.Uint32(), /column 'c'.*unsigned/],
    [new arrow.Float16(), /column 'c'.*Float16/],
    [new arrow.TimestampNanosecond("UTC"), /column 'c'.*TimestampMicrosecond/],
    [new arrow.DateMillisecond(), /column 'c'.*DateDay/],
    [new arrow.Dictionary(new arrow.Utf8(), new arrow.Int32()), /column 'c'.*Utf8/],
  ];
  for (const [t, re] of cases) {
    assert.throws(() => toDeltaSchema(new arrow.Schema([new arrow.Field("c", t)])), re);
  }
  const nested = new arrow.Schema([
    new arrow.Field("s", new arrow.Struct([new arrow.Field("u", new arrow.Uint8())])),
  ]);
  assert.throws(() => toDeltaSchema(nested), /column 's\.u'/);
});

Deno.test("column names: Delta's forbidden characters and case-insensitive duplicates", () => {
  for (const name of ["a b", "a,b", "a;b", "a{b", "a}b", "a(b", "a)b", "a\nb", "a\tb", "a=b"]) {
    assert.throws(
      () => toDeltaSchema(new arrow.Schema([new arrow.Field(name, new arrow.Int32())])),
      SchemaError,
      JSON.stringify(name),
    );
  }
  assert.throws(
    () =>
      toDeltaSchema(
        new arrow.Schema([
          new arrow.Field("Id", new arrow.Int32()),
          new arrow.Field("id", new arrow.Int32()),
        ]),
      ),
    /differ only by case/,
  );
  // Fine: dots, dashes, non-ASCII.
  toDeltaSchema(new arrow.Schema([new arrow.Field("a.b-é", new arrow.Int32())]));
});

Deno.test("leafColumns descends into structs only", () => {
  const leaves = leafColumns(ALL_TYPES_SCHEMA).map((l) => l.path.join("."));
  assert.deepEqual(leaves, ["l", "i", "d", "f", "s", "b", "ts", "dt", "st.x", "st.y", "arr"]);
});
