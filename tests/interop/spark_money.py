"""Spark (and delta-rs) side of tests/delta/spark_money_test.ts: money in orders_cleaned is exact
to the cent, whichever engine reads or writes it.

Usage:
  spark_money.py <manifest.json>           (Spark venv) the Spark dialogue below
  spark_money.py deltars <manifest.json>   (deltalake venv) what delta-rs reads of the `new` table

The manifest names tables; each has a `path` and a `texts` file: the JSON texts of the Kafka
records our cleaned sink wrote to it, and `dead` (offsets our sink must have dead-lettered). The
EXPECTED money of a table is computed here, independently of the writer: every valid record's
JSON text is parsed with `parse_float=Decimal` and its line items' amounts summed as decimals.

The Spark dialogue (one JSON object per line on stdout; logs on stderr):
1. Spark reads the `new` table (the types of price/subtotal, every row's money, SUM), creates
   each table of `spark` with its DDL and inserts its `sparkRows` (literal VALUES). Prints
   {"phase": "created", ...}.
2. It waits for one line on stdin (any JSON) once our sink has appended to those tables.
3. For each table: types, rows and sums as Spark reads them (a double column summed after a cast
   to DECIMAL(12,2), each value compared with the double its JSON text parses to); then Spark
   inserts its `sparkAfter` rows and reads again. Prints {"phase": "done", ...}.
"""

import json
import os
import sys
import time
import traceback
from decimal import Decimal

T0 = time.time()


def emit(obj):
    print(json.dumps(obj), flush=True)


def log(msg):
    print(f"spark_money [{time.time() - T0:6.1f}s] {msg}", file=sys.stderr, flush=True)


def expected_money(t):
    """item_id -> (price, subtotal) as Decimals, from the JSON texts of the valid records."""
    with open(t["texts"], encoding="utf-8") as fh:
        texts = json.load(fh)
    dead = set(t.get("dead", []))
    out = {}
    for offset, text in enumerate(texts):
        if offset in dead:
            continue
        order = json.loads(text, parse_float=Decimal)
        for it in order["line_items"]:
            out[int(it["order_item_id"])] = (
                Decimal(it["order_item_product_price"]),
                Decimal(it["order_item_subtotal"]),
            )
    return out


def literal_money(rows):
    """item_id -> (price, subtotal) of the literal rows Spark inserts."""
    return {int(r["item_id"]): (Decimal(r["price"]), Decimal(r["subtotal"])) for r in rows}


def same_value(got, want, double):
    """A value read back equals the amount of the text: exactly for decimals; for doubles, the
    double nearest to the text (what JSON.parse and float() read)."""
    if got is None:
        return False
    if double:
        return float(got) == float(want)
    return Decimal(got) == want


def compare(rows, expected, double):
    """Rows [item_id, price, subtotal] against the expected money: the first mismatches."""
    bad = []
    seen = set()
    for item, price, subtotal in rows:
        item = int(item)
        seen.add(item)
        want = expected.get(item)
        if want is None:
            bad.append(f"unexpected item {item}")
        elif not (same_value(price, want[0], double) and same_value(subtotal, want[1], double)):
            bad.append(f"item {item}: read {price!r}/{subtotal!r}, want {want[0]}/{want[1]}")
    missing = sorted(set(expected) - seen)
    if missing:
        bad.append(f"missing items {missing[:10]} ({len(missing)})")
    return bad[:10]


def sums(expected):
    return (
        str(sum((p for p, _ in expected.values()), Decimal(0))),
        str(sum((s for _, s in expected.values()), Decimal(0))),
    )


def spark_view(spark, path, expected):
    """What Spark reads: column types, row count, the money of every row, exact sums."""
    from pyspark.sql import types as T

    df = spark.read.format("delta").load(path)
    types = {f.name: f.dataType.simpleString() for f in df.schema.fields}
    double = isinstance(df.schema["price"].dataType, T.DoubleType)
    rows = [[r[0], r[1], r[2]] for r in df.select("item_id", "price", "subtotal").collect()]
    cast = (lambda c: f"CAST({c} AS DECIMAL(12,2))") if double else (lambda c: c)
    agg = df.selectExpr(
        f"SUM({cast('price')}) AS p", f"SUM({cast('subtotal')}) AS s", "COUNT(*) AS n"
    ).collect()[0]
    want_p, want_s = sums(expected)
    return {
        "types": {"price": types["price"], "subtotal": types["subtotal"]},
        "isDecimal": isinstance(df.schema["price"].dataType, T.DecimalType),
        "count": int(agg["n"]),
        "expectedCount": len(expected),
        "sumPrice": str(agg["p"]),
        "sumSubtotal": str(agg["s"]),
        "expectedSumPrice": want_p,
        "expectedSumSubtotal": want_s,
        # Exact comparison of sums as decimals (Spark's decimal(22,2) vs ours at any scale).
        "sumsEqual": Decimal(str(agg["p"])) == Decimal(want_p)
        and Decimal(str(agg["s"])) == Decimal(want_s),
        "mismatches": compare(rows, expected, double),
        # A naive double sum of the same amounts (shows what exactness avoids).
        "doubleSumSubtotal": repr(sum(float(s) for _, s in expected.values())),
    }


def sql_value(v):
    return "NULL" if v is None else (f"'{v}'" if isinstance(v, str) else str(v))


def insert_rows(spark, path, rows, columns):
    values = []
    for r in rows:
        vals = []
        for name, sql_type in columns:
            v = r.get(name)
            if sql_type == "TIMESTAMP":
                vals.append(f"TIMESTAMP '{v}'")
            elif name in ("price", "subtotal"):
                vals.append(f"CAST({v} AS {dict(columns)[name]})")
            else:
                vals.append(sql_value(v))
        values.append("(" + ", ".join(vals) + ")")
    names = ", ".join(f"`{n}`" for n, _ in columns)
    spark.sql(f"INSERT INTO delta.`{path}` ({names}) VALUES {', '.join(values)}")


def spark_main(manifest_file):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from spark_check import start_spark

    with open(manifest_file, encoding="utf-8") as fh:
        manifest = json.load(fh)
    spark = start_spark()
    log(f"Spark {spark.version} up")
    created = {"phase": "created", "tables": {}}
    try:
        new = manifest["new"]
        created["new"] = spark_view(spark, new["path"], expected_money(new))
        for t in manifest["spark"]:
            cols = ", ".join(
                f"`{n}` {ty}{' NOT NULL' if n in t['notNull'] else ''}" for n, ty in t["columns"]
            )
            spark.sql(f"CREATE TABLE delta.`{t['path']}` ({cols}) USING delta")
            insert_rows(spark, t["path"], t["sparkRows"], t["columns"])
            log(f"created {t['name']}")
    except Exception as e:  # noqa: BLE001
        created["fatal"] = f"{type(e).__name__}: {e}\n{traceback.format_exc()}"
    emit(created)
    line = sys.stdin.readline()
    go = json.loads(line) if line.strip() else {"stop": True}
    done = {"phase": "done", "tables": {}}
    if not go.get("stop") and "fatal" not in created:
        for t in manifest["spark"]:
            try:
                expected = expected_money(t)
                expected.update(literal_money(t["sparkRows"]))
                out = {"afterUs": spark_view(spark, t["path"], expected)}
                insert_rows(spark, t["path"], t["sparkAfter"], t["columns"])
                expected.update(literal_money(t["sparkAfter"]))
                out["afterSpark"] = spark_view(spark, t["path"], expected)
                done["tables"][t["name"]] = out
            except Exception as e:  # noqa: BLE001
                done["tables"][t["name"]] = {
                    "error": f"{type(e).__name__}: {e}\n{traceback.format_exc()}"
                }
            log(f"checked {t['name']}")
    emit(done)
    spark.stop()


def deltars_main(manifest_file):
    import pyarrow as pa
    import pyarrow.compute as pc
    from deltalake import DeltaTable

    with open(manifest_file, encoding="utf-8") as fh:
        manifest = json.load(fh)
    new = manifest["new"]
    expected = expected_money(new)
    table = DeltaTable(new["path"]).to_pyarrow_table()
    rows = [
        [r["item_id"], r["price"], r["subtotal"]]
        for r in table.select(["item_id", "price", "subtotal"]).to_pylist()
    ]
    want_p, want_s = sums(expected)
    got_p = pc.sum(table["price"]).as_py()
    got_s = pc.sum(table["subtotal"]).as_py()
    emit(
        {
            "types": {
                "price": str(table.schema.field("price").type),
                "subtotal": str(table.schema.field("subtotal").type),
            },
            "count": table.num_rows,
            "expectedCount": len(expected),
            "sumPrice": str(got_p),
            "sumSubtotal": str(got_s),
            "expectedSumPrice": want_p,
            "expectedSumSubtotal": want_s,
            "sumsEqual": got_p == Decimal(want_p) and got_s == Decimal(want_s),
            "mismatches": compare(rows, expected, False),
        }
    )


if __name__ == "__main__":
    if sys.argv[1] == "deltars":
        deltars_main(sys.argv[2])
    else:
        spark_main(sys.argv[1])
