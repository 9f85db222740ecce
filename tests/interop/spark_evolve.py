"""Spark side of tests/delta/spark_evolve_test.ts: schema evolution and type widening of
orders_cleaned, in ONE Spark session.

Usage: spark_evolve.py <manifest.json>

The manifest names `evolved` (an orders_cleaned table our cleaned stream's sink evolved with
--merge-schema, written before this run) and `widen` (a path for Spark to create). The run talks to
the Deno test over stdout (one JSON object per line; logs go to stderr) and stdin:

1. Spark creates `widen`: the orders_cleaned columns plus `points INT` and `rating FLOAT`, with
   `delta.enableTypeWidening=true`, and inserts one row. It reads every version of `evolved`.
   Prints {"phase": "created", "evolved": {version: rows}, "widenBefore": rows}.
2. It waits for one line on stdin (our sink has then widened `widen`: points to BIGINT, rating to
   DOUBLE), reads every version of `widen` and its schema, inserts a row with a points value
   beyond INT and a rating only a DOUBLE holds, and reads it again.
   Prints {"phase": "done", "widen": {version: rows}, "types": {...}, "afterSpark": rows}.
"""

import json
import os
import sys
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from spark_check import canon_rows, log, start_spark  # noqa: E402


def emit(obj):
    print(json.dumps(obj), flush=True)


COLUMNS = (
    "order_id BIGINT, customer_id BIGINT, customer_fname STRING, customer_lname STRING, "
    "city STRING, state STRING, pincode BIGINT, item_id BIGINT, product_id BIGINT, "
    "quantity BIGINT, price DOUBLE, subtotal DOUBLE, kafka_partition INT, kafka_offset BIGINT, "
    "kafka_timestamp TIMESTAMP, ingested_at TIMESTAMP, points INT, rating FLOAT"
)


def row_sql(order_id, points, rating):
    return (
        f"({order_id}, 1, 'Spark', NULL, NULL, NULL, NULL, {order_id * 10 + 1}, 957, 1, 10.0, "
        f"10.0, 0, -{order_id}, TIMESTAMP '2024-01-01 00:00:00', TIMESTAMP '2024-01-01 00:00:00', "
        f"{points}, {rating})"
    )


def versions(spark, path):
    from delta.tables import DeltaTable

    latest = DeltaTable.forPath(spark, path).history(1).collect()[0]["version"]
    out = {}
    for v in range(0, latest + 1):
        df = spark.read.format("delta").option("versionAsOf", v).load(path)
        out[str(v)] = canon_rows(df)
    return out


def main():
    manifest = json.load(open(sys.argv[1]))
    spark = start_spark()
    try:
        widen = manifest["widen"]
        spark.sql(
            f"CREATE TABLE delta.`{widen}` ({COLUMNS}) USING delta "
            "TBLPROPERTIES ('delta.enableTypeWidening' = 'true')"
        )
        spark.sql(f"INSERT INTO delta.`{widen}` VALUES {row_sql(100, 5, 'CAST(1.5 AS FLOAT)')}")
        emit(
            {
                "phase": "created",
                "evolved": versions(spark, manifest["evolved"]),
                "widenBefore": canon_rows(spark.read.format("delta").load(widen)),
            }
        )
    except Exception:  # noqa: BLE001 - reported to the test
        emit({"fatal": traceback.format_exc()})
        return
    line = sys.stdin.readline()
    if not line.strip() or json.loads(line).get("stop"):
        return
    try:
        read = versions(spark, widen)
        schema = spark.read.format("delta").load(widen).schema
        types = {f.name: f.dataType.simpleString() for f in schema.fields}
        spark.sql(f"INSERT INTO delta.`{widen}` VALUES {row_sql(200, 4000000000, 0.3)}")
        emit(
            {
                "phase": "done",
                "widen": read,
                "types": types,
                "afterSpark": canon_rows(spark.read.format("delta").load(widen)),
            }
        )
    except Exception:  # noqa: BLE001
        emit({"fatal": traceback.format_exc()})
    finally:
        log("spark_evolve: done")
        spark.stop()


main()
