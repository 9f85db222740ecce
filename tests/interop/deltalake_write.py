"""Write Delta tables with delta-rs (`deltalake`) the way other writers lay them out, for our reader.

Usage: deltalake_write.py <kind> <dir>

Kinds (each writes one table into <dir> and prints one JSON object; {"skipped": reason} when the
writer is not installed):

- large: write_deltalake from a pyarrow table of large_string, large_binary, large_list (line items:
  large_list<struct<…, large_string, …>>), dictionaries, a map of large strings and string/binary
  views; then an append of the same rows with plain types (files differ in physical layout).
- units: Parquet files written by pyarrow (timestamps in s, ms, µs and ns, with and without a zone,
  date64, fixed-size binary, fixed-size list, decimal256, a dictionary of large strings), committed
  by delta-rs with create_table_with_add_actions under the logical schema (delta-rs casts
  timestamps to µs itself, so this is how other units reach a table).
- checkpoint: a partitioned table with a txn, checkpointed by delta-rs at version 2, one more
  append, then the checkpoint rewritten with large_string / large_list / string_view columns (as
  some writers produce) and the JSON commits it covers deleted.
- polars: polars' write_delta (it hands delta-rs large and view types, ms/ns timestamps).
- partitions: partitioned by binary, timestamp, timestamp_ntz, decimal, date, double, boolean,
  integer, long and a string with spaces, '/', '=', '%', ':' and non-ASCII characters, with nulls.
"""

import datetime
import decimal
import glob
import json
import os
import sys
import time

import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import CommitProperties, DeltaTable, Schema, Transaction, write_deltalake
from deltalake.transaction import AddAction, create_table_with_add_actions

UTC = datetime.timezone.utc


def line_item(struct_type, product_id, name, qty, price):
    return {"product_id": product_id, "product_name": name, "quantity": qty, "price": price}


def large(path):
    item = pa.struct(
        [
            ("product_id", pa.int64()),
            ("product_name", pa.large_string()),
            ("quantity", pa.int32()),
            ("price", pa.float64()),
        ]
    )
    schema = pa.schema(
        [
            ("id", pa.int64()),
            ("name", pa.large_string()),
            ("payload", pa.large_binary()),
            ("tags", pa.large_list(pa.large_string())),
            ("line_items", pa.large_list(item)),
            ("category", pa.dictionary(pa.int32(), pa.large_string())),
            ("city", pa.dictionary(pa.int8(), pa.string())),
            ("attrs", pa.map_(pa.large_string(), pa.large_string())),
            ("note", pa.string_view()),
            ("blob", pa.binary_view()),
        ]
    )
    rows = {
        "id": [1, 2, 3],
        "name": ["héllo wörld 東京", None, ""],
        "payload": [b"\x00\x01\xff", None, b""],
        "tags": [["a", None, "ç"], None, []],
        "line_items": [
            [line_item(item, 1001, "Chair", 2, 19.99), line_item(item, 1002, None, 1, 0.5)],
            [],
            None,
        ],
        "category": pa.array(["Furniture", None, "Furniture"], pa.large_string()).dictionary_encode(),
        "city": pa.DictionaryArray.from_arrays(
            pa.array([0, 0, None], pa.int8()), pa.array(["Chicago"], pa.string())
        ),
        "attrs": [[("k", "v"), ("é", None)], None, []],
        "note": ["a view value longer than twelve bytes", "short", None],
        "blob": [b"\x00binary view value over 12 bytes", b"b", None],
    }
    write_deltalake(path, pa.table(rows, schema=schema))
    # The same rows with plain types: one table, files in two physical layouts.
    plain = pa.schema(
        [
            pa.field(f.name, plain_type(f.type), f.nullable)
            for f in schema
        ]
    )
    again = pa.table(rows, schema=schema).cast(plain)
    again = again.set_column(0, "id", pa.array([11, 12, 13], pa.int64()))
    write_deltalake(path, again, mode="append")
    return {"path": path, "fileSchemas": file_schemas(path)}


def plain_type(t):
    if pa.types.is_dictionary(t):
        return plain_type(t.value_type)
    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return pa.string()
    if pa.types.is_large_binary(t) or pa.types.is_binary_view(t):
        return pa.binary()
    if pa.types.is_large_list(t):
        return pa.list_(plain_type(t.value_type))
    if pa.types.is_struct(t):
        return pa.struct([pa.field(f.name, plain_type(f.type), f.nullable) for f in t])
    if pa.types.is_map(t):
        return pa.map_(plain_type(t.key_type), plain_type(t.item_type))
    return t


def file_schemas(path):
    out = []
    for f in sorted(glob.glob(os.path.join(path, "**", "*.parquet"), recursive=True)):
        out.append({c.name: str(c.type) for c in pq.read_schema(f)})
    return out


UNITS_DELTA_SCHEMA = {
    "type": "struct",
    "fields": [
        {"name": n, "type": t, "nullable": True, "metadata": {}}
        for n, t in [
            ("id", "long"),
            ("ts_s", "timestamp"),
            ("ts_ms", "timestamp"),
            ("ts_us", "timestamp"),
            ("ts_ns", "timestamp"),
            ("ts_ny", "timestamp"),
            ("ntz_s", "timestamp_ntz"),
            ("ntz_ms", "timestamp_ntz"),
            ("ntz_ns", "timestamp_ntz"),
            ("day", "date"),
            ("code", "binary"),
            ("pair", {"type": "array", "elementType": "integer", "containsNull": True}),
            ("amount", "decimal(12,2)"),
            ("label", "string"),
        ]
    ],
}


def units(path):
    ns = [1714557600123456789, -1, None]  # 2024-05-01T10:00:00.123456789Z, 1969-12-31T23:59:59.999999999Z
    table = pa.table(
        {
            "id": pa.array([1, 2, 3], pa.int64()),
            "ts_s": pa.array([1714557600, -1, None], pa.timestamp("s", tz="UTC")),
            "ts_ms": pa.array([1714557600123, -1, None], pa.timestamp("ms", tz="UTC")),
            "ts_us": pa.array([1714557600123456, -1, None], pa.timestamp("us", tz="UTC")),
            "ts_ns": pa.array(ns, pa.timestamp("ns", tz="UTC")),
            "ts_ny": pa.array([1714557600123, 0, None], pa.timestamp("ms", tz="America/New_York")),
            "ntz_s": pa.array([1714557600, -1, None], pa.timestamp("s")),
            "ntz_ms": pa.array([1714557600123, -1, None], pa.timestamp("ms")),
            "ntz_ns": pa.array(ns, pa.timestamp("ns")),
            "day": pa.array([1714557600000, -86400000, None], pa.date64()),
            "code": pa.array([b"\x00\x01\x02", b"abc", None], pa.binary(3)),
            "pair": pa.array([[1, 2], [None, -3], None], pa.list_(pa.int32(), 2)),
            "amount": pa.array(
                [decimal.Decimal("1234567890.12"), decimal.Decimal("-0.05"), None],
                pa.decimal256(12, 2),
            ),
            "label": pa.array(["x", None, "x"], pa.large_string()).dictionary_encode(),
        }
    )
    os.makedirs(path, exist_ok=True)
    name = "part-00000-units.parquet"
    file = os.path.join(path, name)
    # Parquet 2.6 keeps nanoseconds; the ARROW:schema hint brings back seconds, zones, date64,
    # fixed sizes, decimal256 and the dictionary.
    pq.write_table(table, file, version="2.6", store_schema=True)
    add = AddAction(
        path=name,
        size=os.path.getsize(file),
        partition_values={},
        modification_time=int(time.time() * 1000),
        data_change=True,
        stats=json.dumps({"numRecords": table.num_rows}),
    )
    create_table_with_add_actions(path, Schema.from_json(json.dumps(UNITS_DELTA_SCHEMA)), [add])
    return {"path": path, "fileSchemas": file_schemas(path)}


def checkpoint(path):
    def rows(ids, state):
        return pa.table(
            {
                "id": pa.array(ids, pa.int64()),
                "name": pa.array([f"n{i}" for i in ids], pa.large_string()),
                "state": pa.array([state] * len(ids), pa.string()),
            }
        )

    write_deltalake(path, rows([1, 2], "IL"), partition_by=["state"])
    write_deltalake(path, rows([3], "NY"), mode="append")
    write_deltalake(
        path,
        rows([4], "a b/c"),
        mode="append",
        commit_properties=CommitProperties(app_transactions=[Transaction(app_id="app", version=7)]),
    )
    DeltaTable(path).create_checkpoint()
    write_deltalake(path, rows([5], "IL"), mode="append")
    # delta-rs cannot load a table from the rewritten checkpoint ("Invalid table version"), so
    # the rewrite comes after its last commit.
    cp = os.path.join(path, "_delta_log", "00000000000000000002.checkpoint.parquet")
    t = pq.read_table(cp)
    wide = pa.schema([pa.field(f.name, widen(f.type, f.name), f.nullable) for f in t.schema])
    pq.write_table(t.cast(wide), cp)
    for v in range(0, 3):
        os.remove(os.path.join(path, "_delta_log", f"{v:020d}.json"))
    return {"path": path, "checkpointSchema": {f.name: str(f.type) for f in wide}}


def widen(t, top):
    """Large strings and lists everywhere; string views in metaData (as some writers produce)."""
    if pa.types.is_string(t):
        return pa.string_view() if top == "metaData" else pa.large_string()
    if pa.types.is_list(t):
        return pa.large_list(pa.field(t.value_field.name, widen(t.value_type, top), t.value_field.nullable))
    if pa.types.is_map(t):
        return pa.map_(
            pa.field("key", widen(t.key_type, top), False),
            pa.field("value", widen(t.item_type, top), t.item_field.nullable),
        )
    if pa.types.is_struct(t):
        return pa.struct([pa.field(f.name, widen(f.type, top), f.nullable) for f in t])
    return t


def polars_table(path):
    try:
        import polars as pl
    except ImportError as e:
        return {"skipped": f"polars is not installed in the venv ({e})"}
    df = pl.DataFrame(
        {
            "id": [1, 2, 3],
            "name": ["héllo 東京", None, ""],
            "payload": [b"\x00\x01", None, b""],
            "line_items": [
                [{"product_id": 1001, "product_name": "Chair", "quantity": 2}],
                [],
                None,
            ],
            "ts_ms": pl.Series(
                [datetime.datetime(2024, 5, 1, 10, 0, 0, 123000), None, datetime.datetime(1969, 12, 31, 23, 59, 59, 999000)],
                dtype=pl.Datetime("ms", "UTC"),
            ),
            "ts_ns": pl.Series([1714557600123456789, None, -1], dtype=pl.Datetime("ns")),
        }
    )
    df.write_delta(path)
    return {"path": path, "polars": pl.__version__, "fileSchemas": file_schemas(path)}


def partitions(path):
    t = pa.table(
        {
            "id": pa.array([1, 2, 3, 4], pa.int64()),
            "b": pa.array([b"hello", b"\x01\xc3\xa9/%", None, b""], pa.binary()),
            "ts": pa.array(
                [
                    datetime.datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC),
                    datetime.datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC),
                    None,
                    datetime.datetime(2024, 5, 1, 10, tzinfo=UTC),
                ],
                pa.timestamp("us", tz="UTC"),
            ),
            "ntz": pa.array(
                [
                    datetime.datetime(2024, 5, 1, 10, 0, 0, 5),
                    datetime.datetime(2024, 5, 1),
                    None,
                    datetime.datetime(2024, 5, 1, 0, 0, 0, 100000),
                ],
                pa.timestamp("us"),
            ),
            # delta-rs 1.6.6 cannot write negative decimal partition values ('-12.-500').
            "d": pa.array(
                [decimal.Decimal("12.500"), decimal.Decimal("0.000"), None, decimal.Decimal("123456.789")],
                pa.decimal128(10, 3),
            ),
            "dt": pa.array(
                [datetime.date(2024, 5, 1), datetime.date(1, 1, 1), None, datetime.date(2024, 2, 29)],
                pa.date32(),
            ),
            "s": pa.array(["a b/c=d%e é東 x:y", "", None, "q?#*'\"[]^{\\\t"], pa.string()),
            "f": pa.array([1.5, float("nan"), None, -0.0], pa.float64()),
            "inf": pa.array([float("inf"), float("-inf"), None, 1e20], pa.float64()),
            "flag": pa.array([True, False, None, True], pa.bool_()),
            "n": pa.array([-2147483648, 0, None, 7], pa.int32()),
            "big": pa.array([9007199254740993, -9223372036854775808, None, 0], pa.int64()),
        }
    )
    cols = ["b", "ts", "ntz", "d", "dt", "s", "f", "inf", "flag", "n", "big"]
    write_deltalake(path, t, partition_by=cols)
    log = os.path.join(path, "_delta_log", "00000000000000000000.json")
    with open(log, encoding="utf-8") as fh:
        adds = [json.loads(line)["add"] for line in fh if '"add"' in line]
    return {
        "path": path,
        "adds": [{"path": a["path"], "partitionValues": a["partitionValues"]} for a in adds],
    }


KINDS = {
    "large": large,
    "units": units,
    "checkpoint": checkpoint,
    "polars": polars_table,
    "partitions": partitions,
}


def main():
    kind, root = sys.argv[1], sys.argv[2]
    try:
        result = KINDS[kind](os.path.join(root, kind))
    except Exception as e:  # noqa: BLE001 - reported to the Deno test, which fails on it
        result = {"error": f"{type(e).__name__}: {e}"}
    print(json.dumps(result), flush=True)


main()
sys.stdout.flush()
# delta-rs's runtime threads sometimes abort at interpreter exit; the answer is already out.
os._exit(0)
