"""`FilterPlans`: a source plans each access rule once, by the filter's identity, never by text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ogcserve.errors import FilterError, InvalidParameterValueError
from ogcserve.expressions import parse
from ogcserve.features import FeatureQuery, Schema, SortKey
from ogcserve.sources._query import FilterPlans, plan_query
from ogcserve.sources.geopackage import GeoPackageSource

from .test_geopackage import collect


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@pytest.fixture
def schema(demo_gpkg: Path) -> Any:
    source = GeoPackageSource(demo_gpkg, "countries")
    yield source.schema()
    source.close()


def _plan(plans: FilterPlans, schema: Schema, query: FeatureQuery) -> Any:
    return plans.plan(schema, query, "sqlite", _quote, 4326)


def test_the_same_filter_is_planned_once(schema: Schema) -> None:
    plans = FilterPlans()
    rule = parse("continent = 'Europe' AND pop_est > 50000000")
    first = _plan(plans, schema, FeatureQuery(filter=rule))
    assert _plan(plans, schema, FeatureQuery(filter=rule, limit=5)) is first
    assert first == plan_query(schema, FeatureQuery(filter=rule), "sqlite", _quote, 4326)
    assert first.sql is not None and first.params == ("Europe", 50000000)


def test_an_equal_filter_of_another_request_is_planned_for_itself(schema: Schema) -> None:
    plans = FilterPlans()
    one, other = parse("continent = 'Europe'"), parse("continent = 'Europe'")
    first = _plan(plans, schema, FeatureQuery(filter=one))
    second = _plan(plans, schema, FeatureQuery(filter=other))
    assert second is not first and second == first


def test_values_are_never_shared_between_filters(schema: Schema) -> None:
    plans = FilterPlans()
    europe = _plan(plans, schema, FeatureQuery(filter=parse("continent = 'Europe'")))
    asia = _plan(plans, schema, FeatureQuery(filter=parse("continent = 'Asia'")))
    assert (europe.params, asia.params) == (("Europe",), ("Asia",))


def test_another_schema_is_planned_again(schema: Schema, demo_gpkg: Path) -> None:
    plans = FilterPlans()
    rule = parse("continent = 'Europe'")
    first = _plan(plans, schema, FeatureQuery(filter=rule))
    source = GeoPackageSource(demo_gpkg, "countries")
    try:
        again = _plan(plans, source.schema(), FeatureQuery(filter=rule))
    finally:
        source.close()
    assert again is not first and again == first


def test_refusals_are_not_kept(schema: Schema) -> None:
    plans = FilterPlans()
    unknown = parse("no_such_column = 1")
    for _ in range(2):
        with pytest.raises(FilterError):
            _plan(plans, schema, FeatureQuery(filter=unknown))
    rule = parse("continent = 'Europe'")
    _plan(plans, schema, FeatureQuery(filter=rule))
    with pytest.raises(InvalidParameterValueError):  # the sort keys are checked on a hit too
        _plan(plans, schema, FeatureQuery(filter=rule, sort=(SortKey("no_such_column"),)))


def test_at_most_size_plans_are_kept(schema: Schema) -> None:
    plans = FilterPlans(size=3)
    rules = [parse(f"pop_est > {n}") for n in range(3)]
    kept = [_plan(plans, schema, FeatureQuery(filter=r)) for r in rules]
    assert _plan(plans, schema, FeatureQuery(filter=rules[0])) is kept[0]
    _plan(plans, schema, FeatureQuery(filter=parse("pop_est > 99")))  # full: all dropped
    assert _plan(plans, schema, FeatureQuery(filter=rules[1])) is not kept[1]


def test_a_source_answers_alternating_rules_exactly(demo_gpkg: Path) -> None:
    source = GeoPackageSource(demo_gpkg, "countries")
    europe, asia = parse("continent = 'Europe'"), parse("continent = 'Asia'")
    try:
        for _ in range(3):
            for rule, continent in ((europe, "Europe"), (asia, "Asia"), (None, None)):
                batch = collect(source.query(FeatureQuery(filter=rule, with_geometry=False)))
                found = set(batch.columns["continent"])
                assert found == ({continent} if continent else found)
                assert len(found) > (0 if continent else 2)
    finally:
        source.close()
