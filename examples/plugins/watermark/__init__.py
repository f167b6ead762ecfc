"""The WatermarkFilter of the QGIS Server cookbook, with the Pythonic API.

After the WMS has written a GetMap image, decode it, stamp a small logo in the top-left corner
(20, 20, as the cookbook does) and encode it again in the same format. Error documents (an
exception report, or an EXCEPTIONS=INIMAGE/BLANK image) are left alone.
"""

from __future__ import annotations

import io

from PIL import Image, ImageDraw

from ogcserve.plugins import RequestContext, RequestFilter, ServerInterface

# Pillow's names for the formats GetMap can answer in.
_PILLOW_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP"}
LOGO_SIZE = 40


def logo() -> Image.Image:
    """A red disc with a white ring: the stamp (a real plugin would load a PNG)."""
    image = Image.new("RGBA", (LOGO_SIZE, LOGO_SIZE), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.ellipse(
        (0, 0, LOGO_SIZE - 1, LOGO_SIZE - 1),
        fill=(200, 30, 30, 255),
        outline=(255, 255, 255, 255),
        width=3,
    )
    return image


class WatermarkFilter(RequestFilter):
    """Stamps `logo()` on every successful GetMap."""

    def __init__(self) -> None:
        self.logo = logo()

    def on_response_complete(self, ctx: RequestContext) -> bool | None:
        response = ctx.response
        content_type = response.content_type.split(";")[0].strip().lower()
        if (
            not ctx.is_operation("WMS", "GetMap")
            or ctx.exception_raised
            or response.status != 200
            or content_type not in _PILLOW_FORMATS
        ):
            return True
        image = Image.open(io.BytesIO(response.body))
        mode = image.mode
        stamped = image.convert("RGBA")
        stamped.alpha_composite(self.logo, (20, 20))
        out = io.BytesIO()
        # Same format and, for PNG, the same kind: palette (mode=8bit) stays palette.
        if mode == "P":
            stamped.convert("RGB").quantize(256).save(out, "PNG")
        else:
            target = stamped if mode in ("RGBA", "LA") else stamped.convert("RGB")
            target.save(out, _PILLOW_FORMATS[content_type])
        response.replace_body(out.getvalue())
        return True


def serverClassFactory(server_iface: ServerInterface) -> WatermarkFilter:
    watermark = WatermarkFilter()
    server_iface.register_filter(watermark, priority=100)
    return watermark
