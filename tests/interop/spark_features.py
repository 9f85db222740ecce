"""Spark side of tests/delta/spark_features_test.ts: tables with the writer features Databricks
turns on, written by Spark, then by our writer, then by Spark again, in ONE Spark session.

Usage: spark_features.py <manifest.json>

The manifest names a root, two staging tables our writer made (`a`, `c`: orders_cleaned rows)
and the tables to create. The run talks to the Deno test over stdout (one JSON object per line;
logs go to stderr) and stdin:

1. Spark creates each table under the root with its DDL extras, partitioning and properties,
   adds its CHECK constraints (ALTER TABLE ... ADD CONSTRAINT), inserts `a` (unless the table is
   `empty`), runs the table's `delete` predicate (deletion vectors) and renames its `rename`
   columns (column mapping). For a table with constraints it also makes `<path>_probe` (x INT,
   CHECK x > 0) and records what Spark does with a NULL x and with x = 0. Prints
   {"phase": "created", ...}.
2. It waits for one line on stdin: {"versions": {table: [versions]}, "changes": [tables]} once
   our writer has appended (and optimized) the tables.
3. For each table: the rows Spark reads (latest and the listed versions; on `rowTracking` tables
   with each row's `_metadata.row_id` and `row_commit_version`, in the same query), facts of its
   snapshot, DESCRIBE HISTORY (in-commit timestamp tables), the change feed (tables listed in
   "changes"); then Spark inserts `c` (and runs OPTIMIZE on clustered tables) and reads the rows
   again. Prints {"phase": "done", ...}.
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


def ddl_columns(schema):
    cols = []
    for f in schema.fields:
        cols.append(f"`{f.name}` {f.dataType.simpleString()}{'' if f.nullable else ' NOT NULL'}")
    return cols


def create(spark, t, src_a):
    path = t["path"]
    schema = spark.read.format("delta").load(src_a).schema
    cols = ddl_columns(schema) + t.get("extraColumns", [])
    props = ", ".join(f"'{k}' = '{v}'" for k, v in t.get("properties", {}).items())
    cluster = f" CLUSTER BY ({', '.join(t['clusterBy'])})" if t.get("clusterBy") else ""
    if t.get("partitionBy"):
        cluster += f" PARTITIONED BY ({', '.join(t['partitionBy'])})"
    spark.sql(
        f"CREATE TABLE delta.`{path}` ({', '.join(cols)}) USING delta{cluster}"
        + (f" TBLPROPERTIES ({props})" if props else "")
    )
    for name, expr in t.get("constraints", {}).items():
        spark.sql(f"ALTER TABLE delta.`{path}` ADD CONSTRAINT {name} CHECK ({expr})")
    if t.get("extraColumns") or t.get("empty"):
        return  # a table our writer must refuse: no rows needed
    names = ", ".join(f"`{f.name}`" for f in schema.fields)
    spark.sql(f"INSERT INTO delta.`{path}` ({names}) SELECT {names} FROM delta.`{src_a}`")
    if t.get("delete"):
        spark.sql(f"DELETE FROM delta.`{path}` WHERE {t['delete']}")
    for old, new in t.get("rename", {}).items():
        spark.sql(f"ALTER TABLE delta.`{path}` RENAME COLUMN `{old}` TO `{new}`")


def probe_constraints(spark, path):
    """What Spark does on a CHECK (x > 0) table with x NULL and x = 0 (error text, or None)."""
    probe = path + "_probe"
    spark.sql(f"CREATE TABLE delta.`{probe}` (x INT) USING delta")
    spark.sql(f"ALTER TABLE delta.`{probe}` ADD CONSTRAINT x_positive CHECK (x > 0)")
    out = {"path": probe}
    for key, value in (("null", "NULL"), ("zero", "0")):
        try:
            spark.sql(f"INSERT INTO delta.`{probe}` VALUES ({value})")
            out[key] = None
        except Exception as e:  # noqa: BLE001
            out[key] = str(e)[:500]
    return out


def files_with_dv(spark, t):
    snap = jvm_snapshot(spark, t["path"])
    # Counting is a Spark job (seconds): only where a DELETE could have left a DV.
    n = snap.allFiles().where("deletionVector IS NOT NULL").count() if t.get("delete") else 0
    return {"version": int(snap.version()), "protocol": snap.protocol().json(), "filesWithDv": int(n)}


def read_rows(spark, t, version=None):
    """Canonical rows (latest or at `version`) and, on row-tracking tables, in the same query,
    [item_id, row_id, row_commit_version] of every row."""
    r = spark.read.format("delta")
    if version is not None:
        r = r.option("versionAsOf", version)
    df = r.load(t["path"])
    if not t.get("rowTracking"):
        return canon_rows(df), None
    df = df.selectExpr(
        "*", "_metadata.row_id AS `__row_id`", "_metadata.row_commit_version AS `__row_v`"
    )
    rows = canon_rows(df)
    ids = [[r["item_id"], r.pop("__row_id"), r.pop("__row_v")] for r in rows]
    return rows, ids


def after_us(spark, t, versions, changes, src_c):
    path = t["path"]
    out = {"versions": {}, "rowIdsAt": {}}
    out["rows"], out["rowIds"] = read_rows(spark, t)
    out["facts"] = snapshot_facts(spark, path)
    for v in versions:
        out["versions"][str(v)], out["rowIdsAt"][str(v)] = read_rows(spark, t, v)
    if t.get("properties", {}).get("delta.enableInCommitTimestamps"):
        hist = spark.sql(f"DESCRIBE HISTORY delta.`{path}`").selectExpr(
            "version", "unix_millis(timestamp) AS timestamp", "operation"
        )
        out["history"] = [
            {
                "version": int(h["version"]),
                "timestamp": int(h["timestamp"]),
                "operation": h["operation"],
            }
            for h in hist.orderBy("version").collect()
        ]
    if changes:
        df = (
            spark.read.format("delta")
            .option("readChangeFeed", "true")
            .option("startingVersion", 0)
            .load(path)
            .drop("_commit_timestamp")
        )
        out["changes"] = canon_rows(df)
    schema = spark.read.format("delta").load(src_c).schema
    rename = t.get("rename", {})
    names = ", ".join(f"`{f.name}`" for f in schema.fields)
    targets = ", ".join(f"`{rename.get(f.name, f.name)}`" for f in schema.fields)
    spark.sql(f"INSERT INTO delta.`{path}` ({targets}) SELECT {names} FROM delta.`{src_c}`")
    if t.get("clusterBy"):
        spark.sql(f"OPTIMIZE delta.`{path}`")
    out["rowsAfter"], out["rowIdsAfter"] = read_rows(spark, t)
    out["factsAfter"] = snapshot_facts(spark, path)
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
            create(spark, t, manifest["a"])
            if not t.get("extraColumns") and not t.get("empty"):
                created["tables"][t["name"]] = files_with_dv(spark, t)
                if t.get("constraints"):
                    created["tables"][t["name"]]["probe"] = probe_constraints(spark, t["path"])
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
            if t.get("extraColumns") or t.get("empty"):
                continue
            t1 = time.time()
            try:
                done["tables"][t["name"]] = after_us(
                    spark,
                    t,
                    go.get("versions", {}).get(t["name"], []),
                    t["name"] in go.get("changes", []),
                    manifest["c"],
                )
            except Exception as e:  # noqa: BLE001
                done["tables"][t["name"]] = {
                    "error": f"{type(e).__name__}: {e}\n{traceback.format_exc()}"
                }
            log(f"checked {t['name']} in {time.time() - t1:.1f}s")
        done["seconds"] = round(time.time() - t2, 2)
    done["totalSeconds"] = round(time.time() - T0, 2)
    emit(done)
    spark.stop()


if __name__ == "__main__":
    main()
