"""A typed element maker for the WMS documents (lxml.builder has no type stubs).

wms = Maker("http://www.opengis.net/wms")
wms.Layer(wms.Name("roads"), wms.Title("Roads"), queryable="1")
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from lxml import etree

Child = etree._Element | str


class Maker:
    """`maker.Tag(*children, **attributes)` builds an element in the maker's namespace."""

    def __init__(
        self, namespace: str | None = None, nsmap: Mapping[str | None, str] | None = None
    ) -> None:
        self._namespace = namespace
        self._nsmap = dict(nsmap) if nsmap else None

    def __getattr__(self, tag: str) -> Callable[..., etree._Element]:
        qualified = f"{{{self._namespace}}}{tag}" if self._namespace else tag

        def make(*children: Child, **attributes: str) -> etree._Element:
            element = etree.Element(qualified, nsmap=self._nsmap)  # type: ignore[arg-type]
            for name, value in attributes.items():
                element.set(name, value)
            for child in children:
                if isinstance(child, str):
                    element.text = (element.text or "") + child
                else:
                    element.append(child)
            return element

        return make
