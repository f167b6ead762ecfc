"""Streaming a 1,000,000-row PostGIS table: memory stays flat, rows per second.

The first run creates the table (generate_series, polygons of 9 vertices, three attributes,
a primary key and a GiST index) in the database named by OGCSERVE_TEST_POSTGIS (default
postgresql://postgres@127.0.0.1:5432/ogcserve_test); later runs reuse it.

Each case runs in a fresh child process so that one case's allocations do not hide another's:
* source: PostGISSource(dsn, table).query(FeatureQuery()) batch by batch;
* access: AccessLayer.features(ctx, layer, Read()) on a project with that table as a layer.
RSS is read from /proc/self/status once the source is open (the start), then every
--sample batches; the peak also comes from VmHWM, reset just before streaming through
/proc/self/clear_refs where the kernel allows it. Reported growth = peak RSS - start RSS.

    OGCSERVE_TEST_POSTGIS=postgresql://... /work/venv/bin/python bench/postgis_stream.py
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import psycopg
from _common import DATA_DIR, print_table, proc_status_kb, write_result

from ogcserve.access import Read
from ogcserve.context import RequestContext
from ogcserve.features import FeatureBatch, FeatureQuery
from ogcserve.http.request import ServerRequest
from ogcserve.http.response import BufferSink, ServerResponse
from ogcserve.sources.postgis import PostGISSource
from ogcserve.testing import make_server

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/ogcserve_test"
TARGET_MB = 100.0
CASES = ("source", "access")


def table_name(rows: int) -> str:
    return f"ogcserve_bench_polygons_{rows}"


def ensure_table(dsn: str, rows: int) -> float | None:
    """Create the benchmark table unless it is there with `rows` rows; seconds taken or None."""
    table = table_name(rows)
    with psycopg.connect(dsn, autocommit=True) as conn:
        exists = conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()
        if exists and exists[0] is not None:
            have = conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()
            if have and have[0] == rows:
                return None
        started = time.perf_counter()
        print(f"creating {table} ({rows:,} rows) ...", flush=True)
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        conn.execute(f'DROP TABLE IF EXISTS "{table}"')
        conn.execute(f"""
            CREATE TABLE "{table}" (
              id integer PRIMARY KEY,
              name text NOT NULL,
              category integer NOT NULL,
              value double precision,
              geom geometry(Polygon, 3857) NOT NULL)
        """)
        # One polygon per cell of a 1000-wide grid of 100 m cells: an octagon (9 vertices).
        conn.execute(
            f"""
            INSERT INTO "{table}" (id, name, category, value, geom)
            SELECT i, 'parcel ' || i, i %% 10, round((random() * 1000)::numeric, 3)::float8,
                   ST_Buffer(ST_SetSRID(ST_MakePoint(1000000 + (i %% 1000) * 100 + 50,
                                                     6000000 + (i / 1000) * 100 + 50), 3857),
                             40, 'quad_segs=2')
            FROM generate_series(0, %s - 1) AS i
        """,
            (rows,),
        )
        conn.execute(f'CREATE INDEX ON "{table}" USING gist (geom)')
        conn.execute(f'VACUUM ANALYZE "{table}"')
        return time.perf_counter() - started


def reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False where not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        return True
    except OSError:
        return False


def stream(batches: Iterator[FeatureBatch], sample: int) -> dict[str, Any]:
    """Consume `batches`, sampling RSS; what was seen."""
    gc.collect()
    hwm_reset = reset_peak()
    start_rss = proc_status_kb("VmRSS")
    start_hwm = proc_status_kb("VmHWM")
    peak_rss = start_rss
    rows = batch_count = 0
    geometries = 0
    first_batch_s = None
    started = time.perf_counter()
    for batch in batches:
        if first_batch_s is None:
            first_batch_s = time.perf_counter() - started
        rows += len(batch)
        if batch.geometries is not None:
            geometries += len(batch.geometries)
        batch_count += 1
        if batch_count % sample == 0:
            peak_rss = max(peak_rss, proc_status_kb("VmRSS"))
    elapsed = time.perf_counter() - started
    end_rss = proc_status_kb("VmRSS")
    peak_rss = max(peak_rss, end_rss)
    hwm = proc_status_kb("VmHWM")
    return {
        "rows": rows,
        "geometries": geometries,
        "batches": batch_count,
        "seconds": round(elapsed, 2),
        "rows_per_s": round(rows / elapsed) if elapsed else None,
        "first_batch_ms": None if first_batch_s is None else round(first_batch_s * 1000, 1),
        "start_rss_mb": round(start_rss / 1024, 1),
        "peak_rss_sampled_mb": round(peak_rss / 1024, 1),
        "end_rss_mb": round(end_rss / 1024, 1),
        "vmhwm_reset": hwm_reset,
        "start_vmhwm_mb": round(start_hwm / 1024, 1),
        "vmhwm_mb": round(hwm / 1024, 1),
        "growth_sampled_mb": round((peak_rss - start_rss) / 1024, 1),
        # VmHWM is only a peak of this stream when it could be reset just before it.
        "growth_vmhwm_mb": round((hwm - start_rss) / 1024, 1) if hwm_reset else None,
    }


def run_case(case: str, dsn: str, rows: int, batch_size: int, sample: int) -> dict[str, Any]:
    """One case, in this process."""
    table = table_name(rows)
    if case == "source":
        source = PostGISSource(dsn, table)
        source.schema()  # opens the pool and introspects, as open_source does
        try:
            return stream(source.query(FeatureQuery(), batch_size=batch_size), sample)
        finally:
            source.close()
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    project = DATA_DIR / "postgis_stream.yaml"
    project.write_text(
        "name: bench_postgis\n"
        "layers:\n"
        f"  - name: {table}\n"
        "    source:\n"
        "      type: postgis\n"
        "      dsn: ${OGCSERVE_BENCH_DSN}\n"
        f"      table: {table}\n"
    )
    os.environ["OGCSERVE_BENCH_DSN"] = dsn
    server = make_server([project], environ={"OGCSERVE_BENCH_DSN": dsn})
    try:
        request = ServerRequest.build("GET", "http://bench/ows")
        ctx = RequestContext(server, request, ServerResponse(BufferSink()))
        ctx.project = server.projects.default()
        layer = server.access.layer(ctx, ctx.project, table)
        server.access.crs(ctx, layer)  # open the source before the start measurement
        server.access.schema(ctx, layer)
        # The access layer takes batch_size from the source's default (1000).
        result = stream(server.access.features(ctx, layer, Read()), sample)
        result["max_features"] = server.access.max_features
        return result
    finally:
        server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--batch-size",
        type=int,
        default=1000,
        help="rows per batch for the source case (the access layer uses 1000)",
    )
    parser.add_argument("--sample", type=int, default=10, help="read RSS every N batches")
    parser.add_argument("--case", choices=CASES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    dsn = os.environ.get("OGCSERVE_TEST_POSTGIS") or DEFAULT_DSN

    if args.case:  # child process: one case, JSON on the last line of stdout
        result = run_case(args.case, dsn, args.rows, args.batch_size, args.sample)
        print(json.dumps(result))
        return

    try:
        created_s = ensure_table(dsn, args.rows)
    except psycopg.OperationalError as exc:
        raise SystemExit(f"cannot reach PostGIS at {dsn!r}: {exc}") from None
    if created_s is not None:
        print(f"created in {created_s:.1f} s")

    results: dict[str, Any] = {}
    for case in CASES:
        print(f"streaming through {case} ...", flush=True)
        child = subprocess.run(
            [
                sys.executable,
                "-W",
                "ignore",
                __file__,
                "--case",
                case,
                "--rows",
                str(args.rows),
                "--batch-size",
                str(args.batch_size),
                "--sample",
                str(args.sample),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if child.returncode != 0:
            print(child.stdout + child.stderr, file=sys.stderr)
            results[case] = {"error": child.stderr.strip().splitlines()[-1:]}
            continue
        results[case] = json.loads(child.stdout.strip().splitlines()[-1])

    rows = []
    for case, r in results.items():
        if "error" in r:
            rows.append([case, "error", "", "", "", "", "", ""])
            continue
        rows.append(
            [
                case,
                f"{r['rows']:,}",
                r["seconds"],
                f"{r['rows_per_s']:,}",
                r["start_rss_mb"],
                r["peak_rss_sampled_mb"],
                r["growth_sampled_mb"],
                "n/a" if r["growth_vmhwm_mb"] is None else r["growth_vmhwm_mb"],
            ]
        )
    print(f"\nstreaming {args.rows:,} rows from {table_name(args.rows)}\n")
    print_table(
        [
            "path",
            "rows",
            "s",
            "rows/s",
            "start RSS MB",
            "peak RSS MB",
            "growth MB",
            "growth (VmHWM) MB",
        ],
        rows,
    )
    growths = [
        max(r["growth_sampled_mb"], r["growth_vmhwm_mb"] or 0.0)
        for r in results.values()
        if "error" not in r
    ]
    ok = bool(growths) and len(growths) == len(CASES) and max(growths) < TARGET_MB
    worst = max(growths) if growths else float("nan")
    print(
        f"\nworst RSS growth {worst:.1f} MB; target < {TARGET_MB:.0f} MB: "
        f"{'PASS' if ok else 'FAIL'}"
    )
    write_result(
        "postgis_stream",
        {
            "dsn_host": dsn.rsplit("@", 1)[-1],
            "table": table_name(args.rows),
            "rows": args.rows,
            "batch_size": args.batch_size,
            "table_created_s": None if created_s is None else round(created_s, 1),
            "cases": results,
            "target_growth_mb": TARGET_MB,
            "pass": ok,
        },
    )


if __name__ == "__main__":
    main()
