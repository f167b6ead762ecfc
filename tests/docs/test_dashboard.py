"""docs/grafana-dashboard.json: valid JSON whose every query names metrics the server exports,
and which shows every metric the server exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

from ogcserve.metrics.registry import Metrics

DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana-dashboard.json"
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


def exported() -> dict[str, str]:
    """Every series name /metrics can carry -> its metric family."""
    names = {}
    for family in Metrics().registry.collect():
        for suffix in SUFFIXES[family.type]:
            names[family.name + suffix] = family.name
    return names


def expressions() -> list[str]:
    doc = json.loads(DASHBOARD.read_text())
    found = [t["expr"] for panel in doc["panels"] for t in panel.get("targets", [])]
    found += [v["definition"] for v in doc["templating"]["list"] if "definition" in v]
    return found


def test_every_query_names_only_exported_metrics() -> None:
    names = exported()
    for expr in expressions():
        used = re.findall(r"\bogcserve_[a-z0-9_]+", expr)
        assert used, expr
        unknown = [name for name in used if name not in names]
        assert unknown == [], f"{expr!r} names metrics /metrics does not export"


def test_every_exported_metric_has_a_panel() -> None:
    used = {name for expr in expressions() for name in re.findall(r"ogcserve_[a-z0-9_]+", expr)}
    families = exported()
    shown = {families[name] for name in used if name in families}
    assert set(families.values()) - shown == set()
