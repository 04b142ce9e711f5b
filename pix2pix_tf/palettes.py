"""Label-map colours by class: the built-in façades' and the CMP façades', for data, scores and the drawing page."""

from __future__ import annotations

LABEL_PALETTES: dict[str, dict[str, tuple[int, int, int]]] = {
    # The built-in data (data/synthetic.py): corners of the RGB cube, so any two classes differ by
    # 255 in some channel and JPEG noise cannot turn one class into another.
    "synthetic": {
        "sky": (0, 0, 255), "roof": (0, 0, 0), "wall": (255, 0, 0), "cornice": (255, 0, 255),
        "window": (0, 255, 255), "balcony": (0, 255, 0), "door": (255, 255, 0), "shop": (255, 255, 255),
    },
    # The CMP façades' 12 classes as the pix2pix release colours them: jet((k + 1) / 12).
    "facades": {
        "background": (0, 0, 223), "facade": (0, 40, 255), "window": (0, 128, 255), "door": (0, 212, 255),
        "cornice": (54, 255, 193), "sill": (125, 255, 122), "balcony": (193, 255, 54), "blind": (255, 230, 0),
        "deco": (255, 148, 0), "molding": (255, 71, 0), "pillar": (223, 0, 0), "shop": (128, 0, 0),
    },
}


CUSTOM_PALETTE_PREFIX = "colors:"  # a palette given as its colours: colors:#rrggbb,#rrggbb,...


def classes(name: str) -> dict[str, tuple[int, int, int]]:
    """Class name -> (r, g, b) in [0, 255] of palette ``name``: one of ``LABEL_PALETTES``,
    "colors:#rrggbb,..." (classes named "class 1", "class 2", ...), or "none" (no classes: {})."""
    if name.startswith(CUSTOM_PALETTE_PREFIX):
        colours = name[len(CUSTOM_PALETTE_PREFIX):].split(",")
        return {f"class {index}": tuple(int(colour[start:start + 2], 16) for start in (1, 3, 5))
                for index, colour in enumerate(colours, start=1)}
    return dict(LABEL_PALETTES.get(name, {}))


def hex_colours(name: str) -> list[dict[str, str]]:
    """[{"name": class, "color": "#rrggbb"}, ...] of palette ``name`` (as ``classes``)."""
    return [{"name": label, "color": "#%02x%02x%02x" % colour} for label, colour in classes(name).items()]
