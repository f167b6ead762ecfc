"""What QGIS desktop and GDAL post to a WFS to insert Paris, as recorded from the real clients
(test_wfs_qgis.py, test_wfs_clients.py); test_wfs_axis_order.py replays them."""

# The Transactions QGIS desktop 3.22 posts to insert Paris (captured by test_wfs_qgis.py through
# its recording proxy), by the WFS version the layer was opened with.
QGIS_INSERTS = {
    "2.0.0": (
        '<Transaction xmlns="http://www.opengis.net/wfs" '
        'xsi:schemaLocation="https://ogcserve.org/edit '
        'http://127.0.0.1:8080/ows?SERVICE=WFS&amp;REQUEST=DescribeFeatureType&amp;VERSION=1.0.0&amp;TYPENAME=parcels" '
        'service="WFS" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xmlns:gml="http://www.opengis.net/gml" version="1.0.0"><Insert '
        'xmlns="http://www.opengis.net/wfs"><parcels xmlns="https://ogcserve.org/edit"><role '
        'xmlns="https://ogcserve.org/edit">a</role><name '
        'xmlns="https://ogcserve.org/edit">NAME</name><geom '
        'xmlns="https://ogcserve.org/edit"><gml:Point srsName="urn:ogc:def:crs:EPSG::4326">'
        '<gml:coordinates cs="," ts=" '
        '">2.35219999999999985,48.85660000000000025</gml:coordinates></gml:Point></geom>'
        "</parcels></Insert></Transaction>"
    ),
    "1.1.0": (
        '<Transaction xmlns="http://www.opengis.net/wfs" version="1.1.0" '
        'xmlns:gml="http://www.opengis.net/gml" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xsi:schemaLocation="https://ogcserve.org/edit '
        'http://127.0.0.1:8080/ows?SERVICE=WFS&amp;REQUEST=DescribeFeatureType&amp;VERSION=1.0.0&amp;TYPENAME=parcels" '
        'service="WFS"><Insert xmlns="http://www.opengis.net/wfs"><parcels '
        'xmlns="https://ogcserve.org/edit"><role xmlns="https://ogcserve.org/edit">a</role>'
        '<name xmlns="https://ogcserve.org/edit">NAME</name><geom '
        'xmlns="https://ogcserve.org/edit"><gml:Point srsName="urn:ogc:def:crs:EPSG::4326">'
        '<gml:pos srsDimension="2">48.85660000000000025 2.35219999999999985</gml:pos>'
        "</gml:Point></geom></parcels></Insert></Transaction>"
    ),
    "1.0.0": (
        '<Transaction xmlns="http://www.opengis.net/wfs" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" version="1.0.0" '
        'xmlns:gml="http://www.opengis.net/gml" service="WFS" '
        'xsi:schemaLocation="https://ogcserve.org/edit '
        'http://127.0.0.1:8080/ows?SERVICE=WFS&amp;REQUEST=DescribeFeatureType&amp;VERSION=1.0.0&amp;TYPENAME=parcels">'
        '<Insert xmlns="http://www.opengis.net/wfs"><parcels '
        'xmlns="https://ogcserve.org/edit"><role xmlns="https://ogcserve.org/edit">a</role>'
        '<name xmlns="https://ogcserve.org/edit">NAME</name><geom '
        'xmlns="https://ogcserve.org/edit"><gml:Point srsName="EPSG:4326"><gml:coordinates '
        'cs="," ts=" ">2.35219999999999985,48.85660000000000025</gml:coordinates></gml:Point>'
        "</geom></parcels></Insert></Transaction>"
    ),
}


# QGIS 3.22 moving parcel 2 to 2.3522 E 48.8666 N (an Update of the geometry by feature id).
QGIS_UPDATES = {
    "2.0.0": (
        '<Transaction xmlns="http://www.opengis.net/wfs" '
        'xsi:schemaLocation="https://ogcserve.org/edit '
        'http://127.0.0.1:8080/ows?SERVICE=WFS&amp;REQUEST=DescribeFeatureType&amp;VERSION=1.0.0&amp;TYPENAME=parcels" '
        'service="WFS" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" version="1.0.0" '
        'xmlns:gml="http://www.opengis.net/gml"><Update xmlns="http://www.opengis.net/wfs" '
        'typeName="parcels"><Property xmlns="http://www.opengis.net/wfs"><Name '
        'xmlns="http://www.opengis.net/wfs">geom</Name><Value '
        'xmlns="http://www.opengis.net/wfs"><gml:Point srsName="urn:ogc:def:crs:EPSG::4326">'
        '<gml:coordinates ts=" " '
        'cs=",">2.35219999999999985,48.86659999999999826</gml:coordinates></gml:Point>'
        '</Value></Property><Filter xmlns="http://www.opengis.net/ogc"><FeatureId '
        'xmlns="http://www.opengis.net/ogc" fid="parcels.2"/></Filter></Update></Transaction>'
    ),
    "1.1.0": (
        '<Transaction xmlns="http://www.opengis.net/wfs" '
        'xmlns:gml="http://www.opengis.net/gml" service="WFS" version="1.1.0" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xsi:schemaLocation="https://ogcserve.org/edit '
        'http://127.0.0.1:8080/ows?SERVICE=WFS&amp;REQUEST=DescribeFeatureType&amp;VERSION=1.0.0&amp;TYPENAME=parcels">'
        '<Update xmlns="http://www.opengis.net/wfs" typeName="parcels"><Property '
        'xmlns="http://www.opengis.net/wfs"><Name '
        'xmlns="http://www.opengis.net/wfs">geom</Name><Value '
        'xmlns="http://www.opengis.net/wfs"><gml:Point srsName="urn:ogc:def:crs:EPSG::4326">'
        '<gml:pos srsDimension="2">48.86659999999999826 2.35219999999999985</gml:pos>'
        '</gml:Point></Value></Property><Filter xmlns="http://www.opengis.net/ogc">'
        '<FeatureId xmlns="http://www.opengis.net/ogc" fid="parcels.2"/></Filter></Update>'
        "</Transaction>"
    ),
    "1.0.0": (
        '<Transaction xmlns="http://www.opengis.net/wfs" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" service="WFS" version="1.0.0" '
        'xsi:schemaLocation="https://ogcserve.org/edit '
        'http://127.0.0.1:8080/ows?SERVICE=WFS&amp;REQUEST=DescribeFeatureType&amp;VERSION=1.0.0&amp;TYPENAME=parcels" '
        'xmlns:gml="http://www.opengis.net/gml"><Update xmlns="http://www.opengis.net/wfs" '
        'typeName="parcels"><Property xmlns="http://www.opengis.net/wfs"><Name '
        'xmlns="http://www.opengis.net/wfs">geom</Name><Value '
        'xmlns="http://www.opengis.net/wfs"><gml:Point srsName="EPSG:4326"><gml:coordinates '
        'ts=" " cs=",">2.35219999999999985,48.86659999999999826</gml:coordinates></gml:Point>'
        '</Value></Property><Filter xmlns="http://www.opengis.net/ogc"><FeatureId '
        'xmlns="http://www.opengis.net/ogc" fid="parcels.2"/></Filter></Update></Transaction>'
    ),
}


# GDAL 3.6 (`ogr2ogr -append WFS:...`), by the VERSION of the WFS: URL. In 2.0.0 it writes
# version="2.0.0" in the WFS 1.x namespace, GML 3.1.1 latitude, longitude under the URN.
GDAL_INSERTS = {
    "2.0.0": (
        '<wfs:Transaction xmlns:wfs="http://www.opengis.net/wfs" service="WFS" version="2.0.0" '
        'xmlns:gml="http://www.opengis.net/gml" xmlns:ogc="http://www.opengis.net/ogc">'
        '<wfs:Insert><feature:parcels xmlns:feature="https://ogcserve.org/edit"><feature:geom>'
        '<gml:Point srsName="urn:ogc:def:crs:EPSG::4326"><gml:pos>48.8566 2.3522</gml:pos>'
        "</gml:Point></feature:geom><feature:role>a</feature:role><feature:name>NAME"
        "</feature:name></feature:parcels></wfs:Insert></wfs:Transaction>"
    ),
    "1.0.0": (
        '<wfs:Transaction xmlns:wfs="http://www.opengis.net/wfs" service="WFS" version="1.0.0" '
        'xmlns:gml="http://www.opengis.net/gml" xmlns:ogc="http://www.opengis.net/ogc">'
        '<wfs:Insert><feature:parcels xmlns:feature="https://ogcserve.org/edit"><feature:geom>'
        '<gml:Point srsName="EPSG:4326"><gml:coordinates>2.3522,48.8566</gml:coordinates>'
        "</gml:Point></feature:geom><feature:role>a</feature:role><feature:name>NAME"
        "</feature:name></feature:parcels></wfs:Insert></wfs:Transaction>"
    ),
}
