"""Coverage-guided fuzzing of the parsers with atheris (libFuzzer for Python), for a bounded time.

    .venv/bin/python tests/fuzz/run.py --seconds 25            # every target, one after another
    .venv/bin/python tests/fuzz/run.py --seconds 60 kvp fes    # some targets

Each target runs in its own process, starting from its seed corpus (tests/fuzz/corpus/TARGET,
read only: new inputs go to a temporary folder). A crash, an exception other than the project's
own, a broken property (tests/fuzz/oracle.py) or an input running longer than --timeout stops the
run: the input is printed and saved, and the exit status is 1. Add the input to the seed corpus
(it then runs in every test run, tests/fuzz/test_fuzz_corpus.py) once the cause is fixed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
NAMES = ("expressions", "fes", "wfs_xml", "kvp", "ogcapi")


def main() -> int:
    if sys.argv[1:2] == ["--one"]:  # the child: run.py --one TARGET LIBFUZZER_ARGS...
        return fuzz_one(sys.argv[2], sys.argv[3:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("targets", nargs="*", help=f"some of {', '.join(NAMES)} (default: all)")
    parser.add_argument("--seconds", type=int, default=25, help="per target")
    parser.add_argument("--timeout", type=int, default=20, help="seconds one input may take")
    parser.add_argument(
        "--artifacts",
        type=Path,
        default=Path(".fuzz-artifacts"),
        help="where failing inputs are saved (default: .fuzz-artifacts)",
    )
    args = parser.parse_args()
    unknown = set(args.targets) - set(NAMES)
    if unknown:
        parser.error(f"unknown targets: {', '.join(sorted(unknown))}")
    failed = []
    for name in args.targets or NAMES:
        with tempfile.TemporaryDirectory(prefix=f"fuzz-{name}-") as work:
            command = [
                sys.executable,
                str(Path(__file__)),
                "--one",
                name,
                f"-max_total_time={args.seconds}",
                f"-timeout={args.timeout}",
                "-rss_limit_mb=3072",
                f"-artifact_prefix={work}/",
                "-print_final_stats=1",
                f"-dict={HERE / 'dicts' / f'{name}.dict'}",
                work,
                str(HERE / "corpus" / name),
            ]
            print(f"== fuzzing {name} for {args.seconds} s", flush=True)
            status = subprocess.run(command, env=_environment(), check=False).returncode
            if status != 0:
                failed.append(name)
                saved = args.artifacts / name
                saved.mkdir(parents=True, exist_ok=True)
                for artifact in Path(work).glob("*-*"):
                    (saved / artifact.name).write_bytes(artifact.read_bytes())
                    print(f"== {name}: {saved / artifact.name}: {artifact.read_bytes()[:2000]!r}")
    if failed:
        print(f"== fuzzing found failures in: {', '.join(failed)}")
        return 1
    return 0


def fuzz_one(name: str, libfuzzer_args: list[str]) -> int:
    """Inside the child: instrument ogcserve (and pygeofilter), then fuzz one target."""
    import atheris

    with atheris.instrument_imports(include=["ogcserve", "pygeofilter"]):
        from fuzz.targets import TARGETS

    target = TARGETS[name]
    atheris.Setup([sys.argv[0], *libfuzzer_args], target)
    atheris.Fuzz()
    return 0


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    tests = str(HERE.parent)
    src = str(HERE.parents[1] / "src")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, tests, env.get("PYTHONPATH")) if p)
    return env


if __name__ == "__main__":
    sys.exit(main())
