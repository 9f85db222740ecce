"""Apache Spark + delta-spark side of the Spark interop test (tests/delta/spark_interop_test.ts).

Usage: spark_check.py <manifest.json> | --warm-up

Starts ONE local Spark session (local[2], 1 GiB driver, UI off, 127.0.0.1, 2 shuffle partitions,
session time zone UTC) and, following the manifest written by the Deno test:

- "read": tables our writer produced. For each: Spark's schema, rows (latest and versionAsOf the
  listed versions), COUNT(*) and MIN/MAX of the listed columns (once as Spark answers them, maybe
  from our stats, with a flag telling whether the plan was answered from metadata, and once with
  that optimization off), DESCRIBE HISTORY, txn versions (latest and per listed version) and the
  checkpoint version Spark started from.
- "write": Spark creates its own tables under the given root (partitioned, checkpointInterval 3,
  deletion vectors off, DELETE/UPDATE/INSERT OVERWRITE for removes) and reports, for every version,
  the rows Spark reads, plus schema, history and partition columns; and `spark_types`, partitioned
  by binary, timestamp, timestamp_ntz, decimal, double, float, date and string, written with the
  session time zone set to America/Los_Angeles (its rows read back in UTC).

Prints one JSON object on stdout (everything else goes to stderr). Values are canonical like
tests/support/canon.ts: integers as strings, floats as numbers ("nan"/"inf" as strings), dates
"YYYY-MM-DD", timestamps as epoch microseconds (string), binary as hex, structs as objects, lists
as arrays. `--warm-up` only starts and stops a session (fetches the Delta jars into .cache/ivy).
"""

import json
import math
import os
import sys
import time
import traceback

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
T0 = time.time()


def log(msg):
    print(f"spark_check [{time.time() - T0:6.1f}s] {msg}", file=sys.stderr, flush=True)


def start_spark():
    from delta import configure_spark_with_delta_pip
    from pyspark.sql import SparkSession

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    b = (
        SparkSession.builder.master("local[2]")
        .appName("spark-interop-check")
        .config("spark.driver.memory", "1g")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.jars.ivy", os.path.join(REPO, ".cache", "ivy"))
        .config("spark.sql.warehouse.dir", os.path.join(REPO, ".cache", "spark-warehouse"))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
        .config(
            "spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog"
        )
        .config("spark.databricks.delta.snapshotPartitions", "2")
        # Plain plans, so scan metrics (files read) sit in the executed plan's leaves.
        .config("spark.sql.adaptive.enabled", "false")
        # Tiny data, many short queries: compiling code per query costs more than it saves.
        .config("spark.sql.codegen.wholeStage", "false")
        .config("spark.driver.extraJavaOptions", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
        .config("spark.databricks.delta.properties.defaults.enableDeletionVectors", "false")
    )
    spark = configure_spark_with_delta_pip(b).getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


# ---------------------------------------------------------------------------------------------
# Canonical values


def canon_col(F, T, c, t):
    """A column expression turning `c` (of Spark type `t`) into its canonical form."""
    if isinstance(t, (T.LongType, T.IntegerType, T.ShortType, T.ByteType, T.DecimalType)):
        return c.cast("string")
    if isinstance(t, (T.DateType,)):
        return c.cast("string")
    if isinstance(t, T.TimestampType):
        return F.unix_micros(c).cast("string")
    if isinstance(t, T.TimestampNTZType):
        return F.unix_micros(c.cast("timestamp")).cast("string")
    if isinstance(t, T.BinaryType):
        return F.lower(F.hex(c))
    if isinstance(t, T.FloatType):
        return c.cast("double")
    if isinstance(t, T.StructType):
        inner = F.struct(*[canon_col(F, T, c[f.name], f.dataType).alias(f.name) for f in t.fields])
        return F.when(c.isNull(), F.lit(None)).otherwise(inner)
    if isinstance(t, T.ArrayType):
        return F.transform(c, lambda x: canon_col(F, T, x, t.elementType))
    if isinstance(t, T.MapType):
        return F.transform(
            F.map_entries(c),
            lambda e: F.array(
                F.to_json(F.array(canon_col(F, T, e["key"], t.keyType))),
                F.to_json(F.array(canon_col(F, T, e["value"], t.valueType))),
            ),
        )
    return c


def fix(v):
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    if isinstance(v, dict):
        return {k: fix(x) for k, x in v.items()}
    if isinstance(v, list):
        return [fix(x) for x in v]
    return v


def canon_rows(df):
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    cols = [canon_col(F, T, F.col(f"`{f.name}`"), f.dataType).alias(f.name) for f in df.schema]
    rows = [fix(r.asDict(recursive=True)) for r in df.select(*cols).collect()]
    rows.sort(key=lambda r: json.dumps(r, sort_keys=True))
    return rows


def plan_of(df):
    return df._jdf.queryExecution().executedPlan().toString()


def answered_from_metadata(df):
    """True when Spark answered the aggregate without scanning data (a LocalTableScan plan)."""
    p = plan_of(df)
    return "LocalTableScan" in p and "FileScan" not in p and "Scan parquet" not in p


# ---------------------------------------------------------------------------------------------
# Log-level facts through the JVM (txn versions, checkpoint version)


def jvm_snapshot(spark, path, version=None):
    jvm = spark._jvm
    dl = jvm.org.apache.spark.sql.delta.DeltaLog.forTable(spark._jsparkSession, path)
    if version is None:
        return dl.update(False, jvm.scala.Option.empty(), jvm.scala.Option.empty())
    return dl.getSnapshotAt(version, jvm.scala.Option.empty(), jvm.scala.Option.empty(), False)


def snapshot_facts(spark, path, version=None):
    jvm = spark._jvm
    try:
        s = jvm_snapshot(spark, path, version)
    except Exception:  # noqa: BLE001 - older signature of update()
        dl = jvm.org.apache.spark.sql.delta.DeltaLog.forTable(spark._jsparkSession, path)
        s = dl.unsafeVolatileSnapshot()
    txns = dict(jvm.scala.jdk.javaapi.CollectionConverters.asJava(s.transactions()))
    try:
        cp = int(s.checkpointProvider().version())
    except Exception:  # noqa: BLE001
        cp = None
    proto = s.protocol()
    meta = s.metadata()
    return {
        "version": int(s.version()),
        "txns": {k: str(v) for k, v in txns.items()},
        "checkpointVersion": cp,
        "numFiles": int(s.numOfFiles()),
        "protocol": proto.json(),
        "partitionColumns": list(
            jvm.scala.jdk.javaapi.CollectionConverters.asJava(meta.partitionColumns())
        ),
        "configuration": dict(
            jvm.scala.jdk.javaapi.CollectionConverters.asJava(meta.configuration())
        ),
    }


def history_of(spark, path):
    h = spark.sql(f"DESCRIBE HISTORY delta.`{path}`")
    out = []
    for r in h.orderBy("version").collect():
        out.append(
            {
                "version": int(r["version"]),
                "timestamp": int(r["timestamp"].timestamp() * 1000) if r["timestamp"] else None,
                "operation": r["operation"],
                "operationParameters": dict(r["operationParameters"] or {}),
                "readVersion": None if r["readVersion"] is None else int(r["readVersion"]),
                "isBlindAppend": r["isBlindAppend"],
                "operationMetrics": dict(r["operationMetrics"] or {}),
                "engineInfo": r["engineInfo"],
            }
        )
    return out


def guarded(result, key, fn):
    t = time.time()
    try:
        result[key] = fn()
        result.setdefault("timings", {})[key] = round(time.time() - t, 2)
    except Exception as e:  # noqa: BLE001 - reported to the Deno test, which fails on it
        result.setdefault("errors", {})[key] = f"{type(e).__name__}: {str(e)[:2000]}"
        log(f"error in {key}: {type(e).__name__}: {str(e)[:300]}")


# ---------------------------------------------------------------------------------------------
# Part 1: tables our writer produced


def aggregates(spark, path, columns, metadata_enabled):
    key = "spark.databricks.delta.optimizeMetadataQuery.enabled"
    spark.conf.set(key, "true" if metadata_enabled else "false")
    try:
        out = {}
        df = spark.sql(f"SELECT COUNT(*) AS n FROM delta.`{path}`")
        out["count"] = str(df.collect()[0]["n"])
        out["countFromMetadata"] = answered_from_metadata(df)
        cols = {}
        if not metadata_enabled and columns:
            sel = ", ".join(f"MIN(`{c}`) AS `mn_{c}`, MAX(`{c}`) AS `mx_{c}`" for c in columns)
            row = canon_rows(spark.sql(f"SELECT {sel} FROM delta.`{path}`"))[0]
            for c in columns:
                cols[c] = {"min": row[f"mn_{c}"], "max": row[f"mx_{c}"], "fromMetadata": False}
            out["columns"] = cols
            return out
        for c in columns:
            df = spark.sql(f"SELECT MIN(`{c}`) AS mn, MAX(`{c}`) AS mx FROM delta.`{path}`")
            row = canon_rows(df)[0]
            cols[c] = {"min": row["mn"], "max": row["mx"], "fromMetadata": answered_from_metadata(df)}
        out["columns"] = cols
        return out
    finally:
        spark.conf.unset(key)


def files_read(df):
    """Files the (already executed) query's scans read, from their numFiles metrics (AQE off)."""
    n = 0
    leaves = df._jdf.queryExecution().executedPlan().collectLeaves()
    for i in range(leaves.size()):
        metrics = leaves.apply(i).metrics()
        if metrics.contains("numFiles"):
            n += int(metrics.apply("numFiles").value())
    return n


def filtered_counts(spark, path, predicates):
    """COUNT(*) under each predicate (a scan, where Spark skips files by our stats), and the
    number of files it read."""
    out = {}
    for p in predicates:
        df = spark.sql(f"SELECT COUNT(*) AS n FROM delta.`{path}` WHERE {p}")
        n = df.collect()[0]["n"]
        out[p] = {"count": str(n), "filesRead": files_read(df)}
    return out


def versions_at_times(spark, path, times_ms):
    """The version Spark's time travel picks for each time (ms), as timestampAsOf does."""
    jvm = spark._jvm
    dl = jvm.org.apache.spark.sql.delta.DeltaLog.forTable(spark._jsparkSession, path)
    out = {}
    for ms in times_ms:
        try:
            c = dl.history().getActiveCommitAtTime(
                jvm.java.sql.Timestamp(int(ms)), jvm.scala.Option.empty(), True, False, False
            )
            out[str(ms)] = int(c.version())
        except Exception as e:  # noqa: BLE001
            out[str(ms)] = f"{type(e).__name__}: {str(e)[:200]}"
    return out


def check_ours(spark, t):
    path = t["path"]
    r = {"name": t["name"]}
    reader = lambda **o: spark.read.format("delta").options(**o).load(path)  # noqa: E731
    guarded(r, "schema", lambda: json.loads(reader().schema.json()))
    guarded(r, "rows", lambda: canon_rows(reader()))
    guarded(r, "snapshot", lambda: snapshot_facts(spark, path))
    if t.get("aggregates") is not None:
        guarded(r, "aggregates", lambda: aggregates(spark, path, t["aggregates"], True))
        guarded(r, "aggregatesScan", lambda: aggregates(spark, path, t["aggregates"], False))
    if t.get("history", True):
        guarded(r, "history", lambda: history_of(spark, path))
    if t.get("filters"):
        guarded(r, "filters", lambda: filtered_counts(spark, path, t["filters"]))
    if t.get("timestamps"):
        guarded(r, "timestampVersions", lambda: versions_at_times(spark, path, t["timestamps"]))
    r["versions"] = {}
    for v in t.get("versions", []):
        one = {}
        guarded(one, "rows", lambda: canon_rows(reader(versionAsOf=str(v))))
        guarded(one, "snapshot", lambda: snapshot_facts(spark, path, v))
        r["versions"][str(v)] = one
    return r


# ---------------------------------------------------------------------------------------------
# Part 2: tables Spark writes

SPARK_SCHEMA = (
    "id BIGINT NOT NULL, i INT, d DOUBLE, f FLOAT, s STRING, b BOOLEAN, ts TIMESTAMP, dt DATE, "
    "st STRUCT<x: INT, y: STRING>, arr ARRAY<BIGINT>, p_city STRING, p_day DATE, p_ts TIMESTAMP"
)


def sql_str(x):
    return "NULL" if x is None else "'" + x.replace("'", "''") + "'"


def row_sql(i, city, day, ts_part):
    """One VALUES tuple, deterministic in i; every 4th row has nulls in the data columns."""
    nul = i % 4 == 3

    def v(x):
        return "NULL" if nul else x

    text = "s" + str(i) + ("é😀" if i % 5 == 0 else "")
    vals = [
        str(i),
        v(str(i * 7 - 20)),
        v(str(i * 1.25 - 3)),
        v(f"CAST({i / 4} AS FLOAT)"),
        v(sql_str(text)),
        v("true" if i % 2 else "false"),
        v(f"TIMESTAMP '2024-05-01 10:00:00' + INTERVAL {i * 1000003} MICROSECONDS"),
        v(f"DATE '2024-02-27' + {i}"),
        v(f"named_struct('x', {i}, 'y', 'y{i}')"),
        v(f"array({i}L, NULL, {i * 1000000000000}L)"),
        sql_str(city),
        "NULL" if day is None else f"DATE '{day}'",
        "NULL" if ts_part is None else f"TIMESTAMP '{ts_part}'",
    ]
    return "(" + ", ".join(vals) + ")"


CITIES = ["a b", "50%", "x:y/z=w", "Zürich", None, "plain", "q?#*'[]^{"]
DAYS = ["2024-05-01", None, "1999-12-31"]
TSP = ["2024-05-01 10:00:00.123456", "1970-01-01 00:00:00", None]


def insert(spark, path, ids, overwrite=False):
    rows = ", ".join(
        row_sql(i, CITIES[i % len(CITIES)], DAYS[i % len(DAYS)], TSP[(i // 2) % len(TSP)])
        for i in ids
    )
    mode = "OVERWRITE" if overwrite else "INTO"
    spark.sql(f"INSERT {mode} delta.`{path}` VALUES {rows}")


def write_spark_tables(spark, root):
    from pyspark.sql import functions as F

    out = {}
    path = os.path.join(root, "spark_part")
    tbl = f"delta.`{path}`"
    steps = []

    def step(name, fn):
        t = time.time()
        fn()
        steps.append({"step": name, "seconds": round(time.time() - t, 2)})

    step(
        "create",
        lambda: spark.sql(
            f"CREATE TABLE {tbl} ({SPARK_SCHEMA}) USING delta PARTITIONED BY (p_city, p_day, p_ts) "
            "TBLPROPERTIES ('delta.checkpointInterval' = '3', "
            "'delta.enableDeletionVectors' = 'false')"
        ),
    )
    step("insert1", lambda: insert(spark, path, range(0, 8)))  # v1
    step("insert2", lambda: insert(spark, path, range(8, 14)))  # v2
    step("insert3", lambda: insert(spark, path, range(14, 20)))  # v3 (checkpoint)
    step("delete", lambda: spark.sql(f"DELETE FROM {tbl} WHERE id % 3 = 0"))  # v4
    step("update", lambda: spark.sql(f"UPDATE {tbl} SET s = concat(s, '!') WHERE id % 5 = 1"))
    step("overwrite", lambda: insert(spark, path, range(100, 110), overwrite=True))  # v6 (ckpt)
    step("insert4", lambda: insert(spark, path, range(110, 113)))  # v7
    # v8: an append carrying a txn action (Spark's idempotent-write options).
    step(
        "txn_append",
        lambda: spark.read.format("delta")
        .load(path)
        .where("id < 103")
        .withColumn("id", F.col("id") + 1000)
        .write.format("delta")
        .mode("append")
        .option("txnAppId", "spark-app")
        .option("txnVersion", "42")
        .save(path),
    )
    r = {"path": path, "steps": steps}
    guarded(r, "snapshot", lambda: snapshot_facts(spark, path))
    guarded(r, "history", lambda: history_of(spark, path))
    guarded(r, "schema", lambda: json.loads(spark.read.format("delta").load(path).schema.json()))
    latest = r.get("snapshot", {}).get("version", 8)
    r["versions"] = {}
    for v in range(0, latest + 1):
        one = {}
        guarded(
            one,
            "rows",
            lambda: canon_rows(spark.read.format("delta").option("versionAsOf", v).load(path)),
        )
        r["versions"][str(v)] = one
    out["spark_part"] = r
    t = time.time()
    out["spark_types"] = write_spark_types(spark, os.path.join(root, "spark_types"))
    out["spark_types"]["steps"] = [{"step": "write", "seconds": round(time.time() - t, 2)}]
    return out


def write_spark_types(spark, path):
    """A table partitioned by binary, timestamp, timestamp_ntz, decimal, double, float, date and
    string, written with a non-UTC session time zone (partition values must not depend on it)."""
    import datetime
    import decimal

    from pyspark.sql import types as T

    utc = datetime.timezone.utc
    schema = T.StructType(
        [
            T.StructField("id", T.LongType()),
            T.StructField("b", T.BinaryType()),
            T.StructField("ts", T.TimestampType()),
            T.StructField("ntz", T.TimestampNTZType()),
            T.StructField("d", T.DecimalType(10, 3)),
            T.StructField("dt", T.DateType()),
            T.StructField("s", T.StringType()),
            T.StructField("f", T.DoubleType()),
            T.StructField("fl", T.FloatType()),
        ]
    )
    ts = datetime.datetime
    rows = [
        (1, b"hello", ts(2024, 5, 1, 10, 0, 0, 123456, tzinfo=utc), ts(2024, 5, 1, 10, 0, 0, 5),
         decimal.Decimal("-12.500"), datetime.date(2024, 5, 1), "a b/c=d%e é東", 1.5, 0.1),
        # Not UTF-8 (0xFF): Spark stores U+FFFD, so it reads back EF BF BD (as we do).
        (2, bytes([1, 0xFF, 0xC3, 0xA9, 0x2F, 0x25]), ts(1969, 12, 31, 23, 59, 59, tzinfo=utc),
         ts(2024, 5, 1), decimal.Decimal("0.000"), datetime.date(1, 1, 1), "", float("nan"),
         float("inf")),
        (3, None, None, None, None, None, None, None, None),
        (4, b"", ts(2024, 5, 1, 10, tzinfo=utc), ts(2024, 5, 1, 0, 0, 0, 100000),
         decimal.Decimal("123456.789"), datetime.date(2024, 2, 29), "x:y?#*'\"[]^{\\\t", -0.0,
         1e20),
    ]
    r = {"path": path}
    spark.conf.set("spark.sql.session.timeZone", "America/Los_Angeles")
    try:
        guarded(
            r,
            "write",
            lambda: spark.createDataFrame(rows, schema)
            .write.format("delta")
            .partitionBy("b", "ts", "ntz", "d", "dt", "s", "f", "fl")
            .save(path),
        )
    finally:
        spark.conf.set("spark.sql.session.timeZone", "UTC")
    guarded(r, "snapshot", lambda: snapshot_facts(spark, path))
    guarded(r, "schema", lambda: json.loads(spark.read.format("delta").load(path).schema.json()))
    one = {}
    guarded(one, "rows", lambda: canon_rows(spark.read.format("delta").load(path)))
    r["versions"] = {"0": one}
    return r


def main():
    if sys.argv[1:] == ["--warm-up"]:
        spark = start_spark()
        log(f"Spark {spark.version} up")
        spark.stop()
        print(json.dumps({"startupSeconds": round(time.time() - T0, 2)}))
        return
    with open(sys.argv[1], encoding="utf-8") as fh:
        manifest = json.load(fh)
    spark = start_spark()
    result = {"startupSeconds": round(time.time() - T0, 2), "sparkVersion": spark.version}
    import importlib.metadata as md

    result["deltaSparkVersion"] = md.version("delta_spark")
    log(f"Spark {spark.version} up")
    try:
        result["read"] = {}
        for t in manifest.get("read", []):
            t1 = time.time()
            result["read"][t["name"]] = check_ours(spark, t)
            result["read"][t["name"]]["seconds"] = round(time.time() - t1, 2)
            log(f"read {t['name']} in {time.time() - t1:.1f}s")
        if manifest.get("write"):
            t1 = time.time()
            result["written"] = write_spark_tables(spark, manifest["write"]["root"])
            result["writeSeconds"] = round(time.time() - t1, 2)
            log(f"wrote Spark tables in {time.time() - t1:.1f}s")
    except Exception as e:  # noqa: BLE001
        result["fatal"] = f"{type(e).__name__}: {e}\n{traceback.format_exc()}"
    result["totalSeconds"] = round(time.time() - T0, 2)
    print(json.dumps(result), flush=True)
    spark.stop()


if __name__ == "__main__":
    main()
