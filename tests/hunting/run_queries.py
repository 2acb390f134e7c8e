"""Runs the README's "Hunting with DuckDB" queries on a Parquet file and checks them
against the truth of `flowprobe generate --scenario` (tests/hunting.rs calls this).

    python3 run_queries.py README.md FLOWS.parquet TRUTH.json

The README section's first ```sql block creates the `flows` view from 'flows.parquet'
(replaced here by FLOWS.parquet); every other block starts with `-- finds: SCENARIO`.
Each query must return the planted host of its scenario first, and no other host (the
threshold of the query keeps the rest out). With a truth that planted nothing, every
query must return no row. Exits 1 on any failure, 2 when duckdb is missing.
"""

import json
import re
import sys

try:
    import duckdb
except ImportError:
    print("python3 has no duckdb: pip install duckdb", file=sys.stderr)
    sys.exit(2)


def section(readme):
    text = open(readme, encoding="utf-8").read()
    start = text.index("\n## Hunting with DuckDB")
    end = text.find("\n## ", start + 1)
    return text[start : end if end > 0 else len(text)]


def main(readme, data, truth_path):
    truth = json.load(open(truth_path))
    blocks = re.findall(r"```sql\n(.*?)```", section(readme), re.S)
    if len(blocks) < 6:
        print(f"expected a setup block and five queries, found {len(blocks)}")
        return 1
    con = duckdb.connect()
    setup, queries = blocks[0], blocks[1:]
    if "'flows.parquet'" not in setup:
        print("the setup block does not read 'flows.parquet'")
        return 1
    con.execute(setup.replace("'flows.parquet'", "'" + data.replace("'", "''") + "'"))
    failures = 0
    for sql in queries:
        m = re.match(r"--\s*finds:\s*(\w+)", sql)
        if not m:
            print(f"a query without '-- finds: SCENARIO' first:\n{sql}")
            failures += 1
            continue
        scenario = m.group(1)
        rows = con.execute(sql).fetchall()
        if scenario not in truth["scenarios"]:
            ok = not rows
            verdict = "no row, as nothing was planted" if ok else f"rows although not planted: {rows[:3]}"
        else:
            host = truth[scenario]["host"]
            hosts = [str(r[0]) for r in rows]
            ok = bool(hosts) and hosts[0] == host and all(h == host for h in hosts)
            verdict = f"{len(rows)} rows, first {rows[0] if rows else None}; planted {host}"
        print(f"{'ok  ' if ok else 'FAIL'} {scenario}: {verdict}")
        failures += 0 if ok else 1
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(*sys.argv[1:]))
