"""Spark side of tests/delta/spark_checkpoint_v2_test.ts: V2 checkpoints (table feature
`v2Checkpoint`) written by Spark, then by our writer, then by Spark again, in ONE Spark session.

Usage: spark_checkpoint_v2.py <manifest.json>

The manifest names two staging tables our writer made (`a`, `c`: orders_cleaned rows), the
delete predicate and the tables to create ({name, path, format}). The run talks to the Deno test
over stdout (one JSON object per line; logs go to stderr) and stdin:

1. For each table: with `checkpointV2.topLevelFileFormat` = the table's format and a small
   `checkpoint.partSize` (so the file actions go to several sidecars), Spark creates it with
   `delta.checkpointPolicy=v2` and `delta.checkpointInterval=3`, inserts `a` in three commits
   (versions 1-3: a V2 checkpoint at 3), inserts again (4), deletes rows (5: removes) and inserts
   the rest (6: a V2 checkpoint at 6); prints {"phase": "created", ...} with the log files.
2. It waits for one line on stdin ({"go": true}) once our writer has appended (and written its
   own V2 checkpoint, the latest).
3. For each table: the rows Spark reads (latest and at the listed version), the snapshot facts
   (which checkpoint Spark loaded); then Spark inserts `c` and reads again. Prints
   {"phase": "done", ...}.
"""

import json
import os
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from spark_check import canon_rows, log, snapshot_facts, start_spark  # noqa: E402

T0 = time.time()
CHUNKS = 4


def emit(obj):
    print(json.dumps(obj), flush=True)


def log_files(path):
    root = os.path.join(path, "_delta_log")
    out = []
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            rel = os.path.relpath(os.path.join(dirpath, f), root)
            if not f.startswith(".") and not f.endswith(".crc"):
                out.append(rel)
    return sorted(out)


def create(spark, t, src_a, delete):
    path = t["path"]
    spark.conf.set("spark.databricks.delta.checkpointV2.topLevelFileFormat", t["format"])
    spark.conf.set("spark.databricks.delta.checkpoint.partSize", "2")
    schema = spark.read.format("delta").load(src_a).schema
    cols = ", ".join(
        f"`{f.name}` {f.dataType.simpleString()}{'' if f.nullable else ' NOT NULL'}"
        for f in schema.fields
    )
    spark.sql(
        f"CREATE TABLE delta.`{path}` ({cols}) USING delta TBLPROPERTIES "
        "('delta.checkpointPolicy' = 'v2', 'delta.checkpointInterval' = '3')"
    )
    names = ", ".join(f"`{f.name}`" for f in schema.fields)
    for i in range(CHUNKS):
        spark.sql(
            f"INSERT INTO delta.`{path}` ({names}) SELECT {names} FROM delta.`{src_a}` "
            f"WHERE pmod(item_id, {CHUNKS + 1}) = {i}"
        )
    spark.sql(f"DELETE FROM delta.`{path}` WHERE {delete}")
    spark.sql(
        f"INSERT INTO delta.`{path}` ({names}) SELECT {names} FROM delta.`{src_a}` "
        f"WHERE pmod(item_id, {CHUNKS + 1}) = {CHUNKS}"
    )
    with open(os.path.join(path, "_delta_log", "_last_checkpoint"), encoding="utf-8") as fh:
        last = json.load(fh)
    return {
        "logFiles": log_files(path),
        "lastCheckpoint": last,
        "facts": snapshot_facts(spark, path),
        "rows": canon_rows(spark.read.format("delta").load(path)),
        "rowsAt3": canon_rows(spark.read.format("delta").option("versionAsOf", 3).load(path)),
    }


def after_us(spark, t, versions, src_c):
    path = t["path"]
    out = {"facts": snapshot_facts(spark, path)}
    out["rows"] = canon_rows(spark.read.format("delta").load(path))
    out["versions"] = {
        str(v): canon_rows(spark.read.format("delta").option("versionAsOf", v).load(path))
        for v in versions
    }
    schema = spark.read.format("delta").load(src_c).schema
    names = ", ".join(f"`{f.name}`" for f in schema.fields)
    spark.sql(f"INSERT INTO delta.`{path}` ({names}) SELECT {names} FROM delta.`{src_c}`")
    out["rowsAfter"] = canon_rows(spark.read.format("delta").load(path))
    out["factsAfter"] = snapshot_facts(spark, path)
    out["logFilesAfter"] = log_files(path)
    return out


def main():
    with open(sys.argv[1], encoding="utf-8") as fh:
        manifest = json.load(fh)
    spark = start_spark()
    log(f"Spark {spark.version} up")
    created = {"phase": "created", "startupSeconds": round(time.time() - T0, 2), "tables": {}}
    try:
        for t in manifest["tables"]:
            t1 = time.time()
            created["tables"][t["name"]] = create(spark, t, manifest["a"], manifest["delete"])
            log(f"created {t['name']} in {time.time() - t1:.1f}s")
    except Exception as e:  # noqa: BLE001
        created["fatal"] = f"{type(e).__name__}: {e}\n{traceback.format_exc()}"
    created["seconds"] = round(time.time() - T0, 2)
    emit(created)
    line = sys.stdin.readline()
    go = json.loads(line) if line.strip() else {"stop": True}
    done = {"phase": "done", "tables": {}}
    if not go.get("stop") and "fatal" not in created:
        t2 = time.time()
        for t in manifest["tables"]:
            try:
                done["tables"][t["name"]] = after_us(
                    spark, t, go.get("versions", {}).get(t["name"], []), manifest["c"]
                )
            except Exception as e:  # noqa: BLE001
                done["tables"][t["name"]] = {
                    "error": f"{type(e).__name__}: {e}\n{traceback.format_exc()}"
                }
        done["seconds"] = round(time.time() - t2, 2)
    done["totalSeconds"] = round(time.time() - T0, 2)
    emit(done)
    spark.stop()


if __name__ == "__main__":
    main()
