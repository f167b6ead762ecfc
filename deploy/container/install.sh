#!/bin/sh
# The container's build step (Dockerfile: RUN), also run by scripts/container_build_check.sh:
# install ogcserve from the source tree SOURCE into a new virtual environment PREFIX, then
# check that the installed server loads its demo project.
set -eu
prefix=$1
source=$2
python3 -m venv "$prefix"
"$prefix/bin/pip" install --no-cache-dir --disable-pip-version-check --quiet "$source"
"$prefix/bin/ogcserve" check "$("$prefix/bin/python" -c 'from ogcserve.cli import demo_project; print(demo_project())')"
