"""The fuzzers' seed corpus (tests/fuzz/corpus/TARGET/*) replayed through each target in every
test run: the seeds, and the inputs fuzzing once found failing, keep their properties.

The coverage-guided run itself is `tests/fuzz/run.py` (bounded time, in CI).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .targets import TARGETS, expressions

CORPUS = Path(__file__).resolve().parent / "corpus"
SEEDS = sorted((target, path) for target in TARGETS for path in (CORPUS / target).iterdir())


def test_every_target_has_seeds() -> None:
    assert {target for target, _ in SEEDS} == set(TARGETS)


@pytest.mark.parametrize(("target", "path"), SEEDS, ids=[f"{t}/{p.name}" for t, p in SEEDS])
def test_seed(target: str, path: Path) -> None:
    TARGETS[target](path.read_bytes())


def test_the_expression_seeds_parse() -> None:
    """The expression seeds are valid filters (they lead the fuzzer into every language); the
    `regression_*` inputs that fuzzing found are not."""
    from ogcserve.errors import FilterError
    from ogcserve.expressions import parse

    for path in (CORPUS / "expressions").glob("[!r]*"):
        language, _, text = path.read_text().partition("\n")
        try:
            parse(text, language)
        except FilterError as error:
            raise AssertionError(f"{path.name}: {error.message}") from None
    expressions(b"qgis\n")  # empty: refused, not failed
