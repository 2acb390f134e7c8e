#!/usr/bin/env python3
"""Reads flowprobe's Parquet output for tests/parquet_output.rs, with pyarrow (and
DuckDB for the per-key sums, a second reader that shares no code with pyarrow).

    pq.py describe FILE     the schema and the row groups, one fact a line (tab-separated):
                              rows N
                              column NAME ARROW_TYPE NULLABLE PHYSICAL LOGICAL
                              group I ROWS
                              chunk I NAME COMPRESSION ENCODINGS
    pq.py csv FILE OUT      the table as flowprobe's CSV would write it, to OUT
    pq.py batch LIST        for each line "FILE<TAB>OUT" of LIST, `csv FILE OUT`; prints
                            "ok<TAB>FILE<TAB>ROWS" or "error<TAB>FILE<TAB>MESSAGE" a file
    pq.py sums FILE         DuckDB: per key (src, dst, sport, dport, proto, vlan, tos) the
                            sums of packets and bytes (and of reverse_packets and
                            reverse_bytes, 0 without those columns), tab-separated

The CSV rendering is written here from the typed values, not from any text flowprobe
wrote: times from the INT64 nanoseconds as RFC 3339 UTC with 9 fraction digits and Z,
numbers in decimal, strings as they are, null as empty (a non-null empty string, which
flowprobe never writes, is rendered as <empty> so that it cannot pass for a null).
"""

import datetime
import sys


def need(module, package):
    try:
        return __import__(module)
    except ImportError as e:
        sys.stderr.write(
            f"python3 cannot import {module} ({e}): pip install {package}\n"
        )
        sys.exit(3)


pa = need("pyarrow", "pyarrow")
need("pyarrow.parquet", "pyarrow")
pq = sys.modules["pyarrow.parquet"]

EPOCH = datetime.date(1970, 1, 1)
_days = {}


def rfc3339(ns):
    """RFC 3339 UTC with nanoseconds; by integer arithmetic only (floor division, so a
    negative value renders before 1970, as it is)."""
    secs, frac = divmod(ns, 1_000_000_000)
    days, secs = divmod(secs, 86_400)
    date = _days.get(days)
    if date is None:
        date = (EPOCH + datetime.timedelta(days=days)).isoformat()
        _days[days] = date
    h, rest = divmod(secs, 3600)
    m, s = divmod(rest, 60)
    return f"{date}T{h:02d}:{m:02d}:{s:02d}.{frac:09d}Z"


def csv_field(v):
    """A string as flowprobe's CSV writes it (RFC 4180: quoted when it holds a comma, a
    quote, a line end, or leading/trailing space)."""
    if any(c in v for c in ',"\r\n') or v.startswith(" ") or v.endswith(" "):
        return '"' + v.replace('"', '""') + '"'
    return v


def render(path, out):
    table = pq.ParquetFile(path).read()
    columns = []
    for field, column in zip(table.schema, table.columns):
        if pa.types.is_timestamp(field.type):
            values = column.cast(pa.int64()).to_pylist()
            columns.append(["" if v is None else rfc3339(v) for v in values])
        elif pa.types.is_string(field.type):
            columns.append(
                ["" if v is None else (csv_field(v) if v else "<empty>") for v in column.to_pylist()]
            )
        elif pa.types.is_integer(field.type):
            columns.append(["" if v is None else str(v) for v in column.to_pylist()])
        elif pa.types.is_floating(field.type):
            columns.append(["" if v is None else f"{v:.3f}" for v in column.to_pylist()])
        elif pa.types.is_boolean(field.type):
            columns.append(["" if v is None else ("true" if v else "false") for v in column.to_pylist()])
        else:
            raise ValueError(f"column {field.name}: unexpected type {field.type}")
    with open(out, "w", newline="") as f:
        f.write(",".join(table.schema.names))
        f.write("\n")
        for row in zip(*columns):
            f.write(",".join(row))
            f.write("\n")
    return table.num_rows


def logical(col):
    """The logical type as `Type(key=value,...)`, only the keys the format defines."""
    import json

    lt = json.loads(col.logical_type.to_json())
    keys = [k for k in ("isAdjustedToUTC", "timeUnit", "bitWidth", "isSigned") if k in lt]
    inner = ",".join(f"{k}={json.dumps(lt[k])}" for k in keys)
    return f"{lt.get('Type')}({inner})"


def describe(path):
    f = pq.ParquetFile(path)
    md = f.metadata
    arrow = f.schema_arrow
    print(f"rows\t{md.num_rows}")
    for i in range(len(f.schema)):
        col = f.schema.column(i)
        field = arrow.field(i)
        print(
            f"column\t{col.name}\t{field.type}\t{str(field.nullable).lower()}"
            f"\t{col.physical_type}\t{logical(col)}"
        )
    for g in range(md.num_row_groups):
        rg = md.row_group(g)
        print(f"group\t{g}\t{rg.num_rows}")
        for c in range(rg.num_columns):
            cc = rg.column(c)
            print(
                f"chunk\t{g}\t{cc.path_in_schema}\t{cc.compression}\t{','.join(cc.encodings)}"
            )


def sums(path):
    duckdb = need("duckdb", "duckdb")
    con = duckdb.connect()
    names = [r[0] for r in con.execute(
        "SELECT name FROM parquet_schema(?) WHERE num_children IS NULL", [path]
    ).fetchall()]
    rev = "reverse_packets" in names
    rp, rb = ("sum(reverse_packets)", "sum(reverse_bytes)") if rev else ("0", "0")
    rows = con.execute(
        f"SELECT src, dst, sport, dport, proto, vlan, tos, sum(packets), sum(bytes), "
        f"{rp}, {rb}, count(*) FROM read_parquet(?) "
        f"GROUP BY src, dst, sport, dport, proto, vlan, tos",
        [path],
    ).fetchall()
    for r in rows:
        print("\t".join(str(v) for v in r))


def batch(listing):
    with open(listing) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            src, out = line.split("\t")
            try:
                n = render(src, out)
                print(f"ok\t{src}\t{n}")
            except Exception as e:  # noqa: BLE001 - reported to the test, per file
                msg = f"{type(e).__name__}: {e}".replace("\n", " ").replace("\t", " ")
                print(f"error\t{src}\t{msg}")
            sys.stdout.flush()


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "describe" and len(argv) == 3:
        describe(argv[2])
    elif cmd == "csv" and len(argv) == 4:
        render(argv[2], argv[3])
    elif cmd == "batch" and len(argv) == 3:
        batch(argv[2])
    elif cmd == "sums" and len(argv) == 3:
        sums(argv[2])
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main(sys.argv)
