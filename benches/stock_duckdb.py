"""Runs SQL in the stock DuckDB (the `duckdb` package from PyPI) and times it.

The benchmarks' independent anchor: the same SQL ferry runs, on a copy of
the same database file, in DuckDB as its own project builds and ships it,
so a slow DuckDB inside ferry (a debug build, a bad flag) shows as a ratio
instead of hiding on both sides of an in-process comparison.

Reads one job as JSON on stdin:

    {"database": "/path/copy.duckdb" | ":memory:",
     "expect": {"library_version": "v2.0.0", "source_id": "d54cbbe3df"},
     "settings": {"memory_limit": "512MB", "threads": 2},
     "transaction": true,
     "statements": [{"name": "V010__account.sql", "sql": "..."}, ...]}

and writes {"library_version", "source_id", "settings", "timings":
[{"name", "seconds", "rows"}], "seconds"} as JSON on stdout. A statement
may hold several statements separated by `;`, as a SQL file does. A
statement that ends in a query reports its first column of the first row
as "rows" (for the `count(*)` of a diff).
"""

import json
import sys
import time

import duckdb


def main() -> int:
    job = json.load(sys.stdin)
    settings = dict(job.get("settings", {}))
    # As ferry's connections: offline, nothing loaded behind the SQL's back.
    settings.setdefault("autoinstall_known_extensions", False)
    settings.setdefault("autoload_known_extensions", False)
    conn = duckdb.connect(job["database"], config=settings)
    version, source_id = conn.execute(
        "SELECT library_version, source_id FROM pragma_version()"
    ).fetchone()
    expect = job.get("expect", {})
    if expect and (expect.get("library_version"), expect.get("source_id")) != (version, source_id):
        print(
            f"stock DuckDB is {version} ({source_id}), but ferry links "
            f"{expect.get('library_version')} ({expect.get('source_id')}): "
            "the anchor must be the same version",
            file=sys.stderr,
        )
        return 2
    effective = {
        name: conn.execute("SELECT current_setting(?)", [name]).fetchone()[0]
        for name in ("memory_limit", "threads")
    }
    timings = []
    started = time.perf_counter()
    if job.get("transaction"):
        conn.execute("BEGIN TRANSACTION")
    for statement in job["statements"]:
        clock = time.perf_counter()
        try:
            result = conn.execute(statement["sql"])
            row = result.fetchone() if result.description else None
        except duckdb.Error as error:
            print(f"{statement['name']}: {error}", file=sys.stderr)
            return 1
        timings.append(
            {
                "name": statement["name"],
                "seconds": time.perf_counter() - clock,
                "rows": row[0] if row and isinstance(row[0], int) else None,
            }
        )
    if job.get("transaction"):
        conn.execute("COMMIT")
    total = time.perf_counter() - started
    conn.close()
    json.dump(
        {
            "library_version": version,
            "source_id": source_id,
            "settings": effective,
            "timings": timings,
            "seconds": total,
        },
        sys.stdout,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
