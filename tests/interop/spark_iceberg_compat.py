"""Spark side of tests/delta/spark_iceberg_compat_test.ts: tables with icebergCompatV1/V2 (the
UniForm compatibility features, without the Iceberg conversion itself), written by Spark, then
by our writer, then by Spark again, in ONE Spark session.

Usage: spark_iceberg_compat.py <manifest.json>

The manifest names two staging tables our writer made (`a`, `c`: orders_cleaned rows) and the
tables to create (name, path, properties, partitionBy, extraColumns as DDL, extraSelect: column
-> SQL expression over the staging rows). Talks to the Deno test over stdout (one JSON object per
line; logs go to stderr) and stdin:

1. Spark creates each table (not those marked `ours`: our createTable makes them) and inserts
   `a` (with the extra columns' expressions). A table Spark refuses to create is reported with
   its error. Prints {"phase": "created", ...} with each table's protocol, configuration and
   schema.
2. Waits for one line on stdin ({} once our writer has appended and optimized).
3. For each table: the rows Spark reads; then Spark inserts `c` and reads the rows again.
   Prints {"phase": "done", ...}.
"""

import json
import os
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from spark_check import canon_rows, jvm_snapshot, log, snapshot_facts, start_spark  # noqa: E402

T0 = time.time()


def emit(obj):
    print(json.dumps(obj), flush=True)


def insert(spark, t, src):
    schema = spark.read.format("delta").load(src).schema
    names = [f"`{f.name}`" for f in schema.fields]
    extra = t.get("extraSelect", {})
    targets = ", ".join(names + [f"`{k}`" for k in extra])
    values = ", ".join(names + list(extra.values()))
    spark.sql(f"INSERT INTO delta.`{t['path']}` ({targets}) SELECT {values} FROM delta.`{src}`")


def create(spark, t, src_a):
    path = t["path"]
    schema = spark.read.format("delta").load(src_a).schema
    cols = [
        f"`{f.name}` {f.dataType.simpleString()}{'' if f.nullable else ' NOT NULL'}"
        for f in schema.fields
    ] + t.get("extraColumns", [])
    props = ", ".join(f"'{k}' = '{v}'" for k, v in t.get("properties", {}).items())
    part = f" PARTITIONED BY ({', '.join(t['partitionBy'])})" if t.get("partitionBy") else ""
    spark.sql(
        f"CREATE TABLE delta.`{path}` ({', '.join(cols)}) USING delta{part}"
        + (f" TBLPROPERTIES ({props})" if props else "")
    )
    insert(spark, t, src_a)
    facts = snapshot_facts(spark, path)
    facts["schemaString"] = jvm_snapshot(spark, path).metadata().schemaString()
    return facts


def main():
    with open(sys.argv[1], encoding="utf-8") as fh:
        manifest = json.load(fh)
    spark = start_spark()
    log(f"Spark {spark.version} up")
    created = {"phase": "created", "startupSeconds": round(time.time() - T0, 2), "tables": {}}
    for t in manifest["tables"]:
        t1 = time.time()
        if t.get("ours"):
            continue  # our createTable makes it
        try:
            created["tables"][t["name"]] = create(spark, t, manifest["a"])
        except Exception as e:  # noqa: BLE001
            created["tables"][t["name"]] = {"error": f"{type(e).__name__}: {str(e)[:1500]}"}
        log(f"created {t['name']} in {time.time() - t1:.1f}s")
    created["seconds"] = round(time.time() - T0, 2)
    emit(created)
    line = sys.stdin.readline()
    go = json.loads(line) if line.strip() else {"stop": True}
    done = {"phase": "done", "tables": {}}
    if not go.get("stop"):
        t2 = time.time()
        for t in manifest["tables"]:
            if "error" in created["tables"].get(t["name"], {}):
                continue
            t1 = time.time()
            out = {}
            try:
                df = spark.read.format("delta").load(t["path"])
                out["rows"] = canon_rows(df)
                insert(spark, t, manifest["c"])
                out["rowsAfter"] = canon_rows(spark.read.format("delta").load(t["path"]))
                out["factsAfter"] = snapshot_facts(spark, t["path"])
            except Exception as e:  # noqa: BLE001
                out["error"] = f"{type(e).__name__}: {e}\n{traceback.format_exc()}"
            done["tables"][t["name"]] = out
            log(f"checked {t['name']} in {time.time() - t1:.1f}s")
        done["seconds"] = round(time.time() - t2, 2)
    done["totalSeconds"] = round(time.time() - T0, 2)
    emit(done)
    spark.stop()


if __name__ == "__main__":
    main()
