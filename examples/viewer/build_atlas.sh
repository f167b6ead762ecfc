#!/bin/sh
# Makes atlas.gpkg (next to this script, or in the folder $1) from the demo's Natural Earth data
# (src/ogcserve/demo/natural_earth.gpkg, or the file $2).
set -e
out="${1:-$(dirname "$0")}/atlas.gpkg"
demo="${2:-$(dirname "$0")/../../src/ogcserve/demo/natural_earth.gpkg}"
rm -f "$out"
ogr2ogr -f GPKG "$out" "$demo" -nln countries -sql "SELECT geom, name, continent, iso_a3, pop_est, gdp_md_est, 'https://en.wikipedia.org/wiki/' || replace(name, ' ', '_') AS wiki, 'classified-' || iso_a3 AS secret FROM countries"
ogr2ogr -update "$out" "$demo" -nln cities -sql "SELECT geom, name FROM cities"
ogr2ogr -update "$out" "$demo" -nln counties -sql "SELECT geom, NAME AS name, BIR74 AS births FROM nc_counties"
