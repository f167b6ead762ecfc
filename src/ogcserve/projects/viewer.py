"""The project's web viewer settings: result formatters per layer field, and search panels.

A formatter turns an attribute value into what the viewer shows, in identify results and in
search grids alike (as the QGIS Web Client's GetFeatureInfo formatters). Built-in kinds need no
code; `custom` names a function `(value, field, layer, feature) => html` exported by one of the
ES modules listed in `viewer.modules`.

    layers:
      - name: countries
        formatters:
          name: {type: link, href: "https://en.wikipedia.org/wiki/{value}", label: "{value}"}
          pop_est: [{type: number, decimals: 0}]
          continent: {type: custom, function: continentBadge}
    viewer:
      modules: [formatters.js]
      searches:
        - title: Countries
          layer: countries
          fields: [{name: name, op: ILIKE}, {name: pop_est, op: ">=", label: Population at least}]
          columns: [name, continent, pop_est]
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

FormatterType = Literal["link", "image", "email", "number", "date", "map", "template", "custom"]
SearchOperator = Literal["=", "<>", "<", "<=", ">", ">=", "LIKE", "ILIKE"]

_JS_NAME = re.compile(r"^[A-Za-z_$][\w$]*$")
# What each kind needs besides its type.
_REQUIRED: dict[str, tuple[str, ...]] = {
    "map": ("values",),
    "template": ("template",),
    "custom": ("function",),
}


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FormatterConfig(_Config):
    """One formatter: a built-in kind with its options, or a custom function."""

    type: FormatterType
    href: str | None = None  # link: URL template ({value}, {field name}); default the value
    label: str | None = None  # link: label template; default the value
    width: int | None = Field(default=None, ge=1, le=2000)  # image: thumbnail width in pixels
    decimals: int | None = Field(default=None, ge=0, le=20)  # number
    locale: str | None = None  # number, date: a BCP 47 tag; default the browser's
    style: Literal["short", "medium", "long", "full"] | None = None  # date
    values: dict[str, str] | None = None  # map: value -> label
    template: str | None = None  # template: text with {value} and {field name}, HTML-escaped
    function: str | None = None  # custom: the name a viewer module exports

    @model_validator(mode="after")
    def _needs(self) -> Self:
        for option in _REQUIRED.get(self.type, ()):
            if getattr(self, option) is None:
                raise PydanticCustomError(
                    "formatter_option",
                    "a '{kind}' formatter needs '{option}'",
                    {"kind": self.type, "option": option},
                )
        if self.function is not None and not _JS_NAME.match(self.function):
            raise PydanticCustomError(
                "formatter_function",
                "'{name}' is not a JavaScript function name",
                {"name": self.function, "field": "function"},
            )
        return self


def _formatter_list(value: Any) -> Any:
    # `name: link`, `name: {type: link}` and `name: [link, {...}]` all mean a list.
    items = value if isinstance(value, list | tuple) else [value]
    return [{"type": item} if isinstance(item, str) else item for item in items]


Formatters = Annotated[tuple[FormatterConfig, ...], BeforeValidator(_formatter_list)]
"""The formatters of one field, applied in order (each receives the previous one's output)."""


class SearchField(_Config):
    """One input of a search form: the attribute it compares and how."""

    name: str
    label: str | None = None
    op: SearchOperator = "="


class SearchPanel(_Config):
    """A search form on one layer, with its result grid."""

    title: str
    layer: str
    fields: tuple[SearchField, ...] = Field(min_length=1)
    columns: tuple[str, ...] = ()  # empty: the form's fields
    limit: int = Field(default=50, ge=1, le=1000)
    # The scale a chosen result is shown at when it is a point (or smaller than that view);
    # None: fit the result's extent.
    zoom_scale: float | None = Field(default=None, gt=0)


class ViewerConfig(_Config):
    """The project's `viewer:` block."""

    title: str | None = None
    # ES modules (relative to the project file, or a path on this server such as a plugin's
    # route) whose exported functions are custom formatters.
    modules: tuple[str, ...] = ()
    searches: tuple[SearchPanel, ...] = ()
