"""Built-in synthetic façades: label maps -> rendered photos, generated locally with no download.

Each pair is a random building façade drawn as rectangles of a few classes (`PALETTE`) and a
"photo" rendered from it. Every class has its own colour and texture, so the photo is mostly a
function of the labels (learnable), with moderate per-image variation (wall finish, frame and roof
colour, light direction, exposure, grime, sensor noise) so that it is not a lookup table.
Files use the standard pix2pix layout: `split/NNNNNN.jpg` holding A (labels) | B (photo).
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import tempfile
from typing import NamedTuple

import numpy as np

from pix2pix_tf.palettes import LABEL_PALETTES

FORMAT_VERSION = 1

# Corners of the RGB cube (palettes.py): a nearest-colour lookup recovers the classes exactly.
PALETTE: dict[str, tuple[int, int, int]] = LABEL_PALETTES["synthetic"]
_INDEX = {name: index for index, name in enumerate(PALETTE)}

# Depth of each class in front of the wall plane: sky and openings (0) are recessed; the roof,
# cornices and balconies stick out. A deeper class casts a shadow onto a shallower one.
_DEPTH = np.array([{"wall": 1, "roof": 2, "cornice": 2, "balcony": 2}.get(name, 0)
                   for name in PALETTE])

# A few discrete wall finishes (RGB in [0, 1], is brick) keep the per-image variation learnable.
_WALL_FINISHES = (
    ((0.62, 0.31, 0.23), True),
    ((0.86, 0.78, 0.62), False),
    ((0.72, 0.73, 0.74), False),
    ((0.88, 0.80, 0.52), False),
)


def _facade_rectangles(rng: np.random.Generator, size: int) -> list[tuple[str, int, int, int, int]]:
    """Random façade: (class, top, bottom, left, right) in px, bottom/right exclusive, in paint
    order (later rectangles cover earlier ones). Coordinates may lie outside the image."""
    # Work in fractions of the image size so that every size gets the same kinds of façades.
    left, right = np.array([0.0, 1.0]) + rng.uniform(0, 0.12, 2) * [1, -1] * (rng.random() < 0.6)
    roof_bottom, ground_top = rng.uniform(0.14, 0.28), 1 - rng.uniform(0.17, 0.23)
    cornice_height, overhang = max(1.5 / size, 0.03), 0.015
    floors, columns = rng.integers(2, 6), rng.integers(2, 6)
    floor_height = (ground_top - roof_bottom - cornice_height) / floors
    centers = left + (np.arange(columns) + 0.5) * (right - left) / columns
    window_height = floor_height * rng.uniform(0.5, 0.68)
    sill = floor_height * rng.uniform(0.12, 0.22)
    # At most 1.3 times as wide as tall: wide, short slits do not look like windows.
    half_width = min((right - left) / columns * rng.uniform(0.2, 0.3), 0.65 * window_height)
    roof_top = roof_bottom - rng.uniform(0.05, 0.1)
    rectangles = [
        ("roof", roof_top, roof_bottom, left + overhang, right - overhang),
        ("wall", roof_bottom, 1, left, right),
        ("cornice", roof_bottom, roof_bottom + cornice_height, left - overhang, right + overhang),
    ]
    has_ledges, has_balconies = rng.random() < 0.5, rng.random(floors) < 0.3
    for floor in range(floors):
        floor_bottom = roof_bottom + cornice_height + (floor + 1) * floor_height
        if has_ledges:
            ledge_top = floor_bottom - 0.4 * cornice_height
            rectangles.append(("cornice", ledge_top, floor_bottom, left, right))
        window_bottom = floor_bottom - sill
        for center in centers:
            rectangles.append(("window", window_bottom - window_height, window_bottom,
                               center - half_width, center + half_width))
            if has_balconies[floor]:  # a railing in front of the lower part of the window
                rectangles.append(("balcony", window_bottom - 0.35 * window_height,
                                   window_bottom + 0.3 * sill, center - 1.4 * half_width,
                                   center + 1.4 * half_width))
    # Ground floor: one door, and shop fronts or windows in the other columns.
    height, door_column, has_shop = 1 - ground_top, rng.integers(columns), rng.random() < 0.5
    for column, center in enumerate(centers):
        if column == door_column:
            door_half_width = max(half_width, 0.05)
            rectangles.append(("door", 1 - 0.75 * height, 1, center - door_half_width,
                               center + door_half_width))
        elif has_shop:
            shop_half_width = 0.42 * (right - left) / columns
            rectangles.append(("shop", ground_top + 0.15 * height, 1 - 0.08 * height,
                               center - shop_half_width, center + shop_half_width))
        else:
            rectangles.append(("window", ground_top + 0.2 * height, 1 - 0.3 * height,
                               center - half_width, center + half_width))
    return [(name, *(int(round(value * size)) for value in bounds)) for name, *bounds in rectangles]


def _paint(rectangles: list, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Class indices [size, size] int (0 = sky) and, per pixel, the distance in px to the left,
    top, right and bottom edge of the rectangle that painted it [size, size, 4] int."""
    labels = np.zeros((size, size), np.int64)
    edges = np.zeros((size, size, 4), np.int32)
    for name, top, bottom, left, right in rectangles:
        rows, columns = slice(max(top, 0), min(bottom, size)), slice(max(left, 0), min(right, size))
        row, column = np.arange(size)[rows, None], np.arange(size)[columns]
        labels[rows, columns] = _INDEX[name]
        # Distances are to the unclipped rectangle; each broadcasts along rows or columns.
        distances = [column - left, row - top, right - 1 - column, bottom - 1 - row]
        for side, distance in enumerate(distances):
            edges[rows, columns, side] = distance
    # Slope the roof's sides: the higher the row, the further in the roof starts.
    roof = labels == _INDEX["roof"]
    labels[roof & (np.minimum(edges[..., 0], edges[..., 2]) < edges[..., 3])] = _INDEX["sky"]
    return labels, edges


class _Pixels(NamedTuple):
    """The N pixels of one class: row, column [N] in the image; left, top, right, bottom [N]
    = distance in px to each edge of the rectangle that painted the pixel."""

    row: np.ndarray
    column: np.ndarray
    left: np.ndarray
    top: np.ndarray
    right: np.ndarray
    bottom: np.ndarray
    size: int

    def down(self) -> np.ndarray:
        """[N] position inside the rectangle, from its top (0) to its bottom (1)."""
        return self.top / np.maximum(self.top + self.bottom, 1)

    def near_edge(self, width: int) -> np.ndarray:
        """[N] bool: within `width` px of the rectangle's border, i.e. on its frame."""
        return np.min([self.left, self.top, self.right, self.bottom], axis=0) < width

    def px(self, length: float, minimum: int = 1) -> int:
        """A length in px given for a 256 px image, scaled to this image's size."""
        return max(minimum, round(length * self.size / 256))


def _blend(start, end, amount: np.ndarray) -> np.ndarray:
    """Linear blend of two RGB colours, amount [N] in [0, 1] -> [N, 3]."""
    return np.asarray(start) + (np.asarray(end) - np.asarray(start)) * amount[:, None]


# Shaders: (pixels of one class, style) -> RGB [N, 3] in about [0, 1].
def _shade_sky(pixels: _Pixels, style: dict) -> np.ndarray:
    return _blend((0.42, 0.62, 0.90), (0.84, 0.90, 0.96), np.clip(pixels.row / pixels.px(90), 0, 1))


def _shade_roof(pixels: _Pixels, style: dict) -> np.ndarray:
    tile_rows = pixels.bottom % pixels.px(6, minimum=2) == 0
    return style["roof"] * ((1.1 - 0.3 * pixels.down()) * np.where(tile_rows, 0.7, 1))[:, None]


def _shade_wall(pixels: _Pixels, style: dict) -> np.ndarray:
    color = np.tile(style["wall"], (len(pixels.row), 1))
    if style["is_brick"]:  # staggered courses with light mortar joints
        brick = pixels.px(7, minimum=3)
        stagger = pixels.row // brick % 2 * brick
        mortar = (pixels.row % brick == 0) | ((pixels.column + stagger) % (2 * brick) == 0)
        color[mortar] = (0.76, 0.72, 0.66)
    return color


def _shade_cornice(pixels: _Pixels, style: dict) -> np.ndarray:
    # Lit from above: a bright top edge and a shaded underside.
    return np.array((0.90, 0.88, 0.82)) * (1.1 - 0.4 * pixels.down())[:, None]


def _shade_window(pixels: _Pixels, style: dict) -> np.ndarray:
    frame, down = pixels.px(3), pixels.down()
    across = pixels.left / np.maximum(pixels.left + pixels.right, 1)
    glass = _blend((0.50, 0.60, 0.70), (0.10, 0.13, 0.18), down)  # sky reflection over a dark room
    glass += 0.12 * (np.abs(across - down - 0.1) < 0.12)[:, None]  # diagonal glint
    # Mullion and transom only where the window is big enough to keep some glass visible.
    mullion = (abs(pixels.left - pixels.right) <= frame) & (pixels.left + pixels.right >= 8 * frame)
    transom = (abs(down - 0.35) * (pixels.top + pixels.bottom) < frame / 2 + 0.5) & (
        pixels.top + pixels.bottom >= 8 * frame)
    return np.where((pixels.near_edge(frame) | mullion | transom)[:, None], style["frame"], glass)


def _shade_door(pixels: _Pixels, style: dict) -> np.ndarray:
    planks = pixels.left % pixels.px(6, minimum=2) == 0
    wood = np.array((0.42, 0.26, 0.14)) * np.where(planks, 0.7, 1)[:, None]
    return np.where(pixels.near_edge(pixels.px(3))[:, None], style["frame"] * 0.8, wood)


def _shade_balcony(pixels: _Pixels, style: dict) -> np.ndarray:
    bars = (pixels.left % pixels.px(6, minimum=2) == 0) | pixels.near_edge(pixels.px(3))
    color = np.where(bars[:, None], (0.12, 0.12, 0.13), style["wall"] * 0.45)  # shade behind bars
    color[pixels.bottom < pixels.px(3)] = (0.78, 0.77, 0.74)  # concrete slab
    return color


def _shade_shop(pixels: _Pixels, style: dict) -> np.ndarray:
    down = pixels.down()
    color = _blend((0.95, 0.84, 0.58), (0.50, 0.36, 0.22), down)  # warmly lit interior
    color[down < 0.22] = style["sign"]
    sign_border = abs(down - 0.22) * (pixels.top + pixels.bottom) < pixels.px(3)
    color[pixels.near_edge(pixels.px(3)) | sign_border] = (0.15, 0.15, 0.16)
    return color


_SHADERS = {"sky": _shade_sky, "roof": _shade_roof, "wall": _shade_wall,
            "cornice": _shade_cornice, "window": _shade_window, "balcony": _shade_balcony,
            "door": _shade_door, "shop": _shade_shop}


def _random_style(rng: np.random.Generator) -> dict:
    """Per-image appearance choices; colours are RGB arrays in [0, 1]."""
    wall, is_brick = _WALL_FINISHES[rng.integers(len(_WALL_FINISHES))]

    def choose(*colors: tuple) -> np.ndarray:
        return np.array(colors[rng.integers(len(colors))])

    return {"wall": np.array(wall), "is_brick": is_brick,
            "frame": choose((0.93, 0.93, 0.90), (0.24, 0.20, 0.17)),
            "roof": choose((0.30, 0.31, 0.35), (0.56, 0.28, 0.20)),
            "sign": choose((0.15, 0.30, 0.55), (0.60, 0.12, 0.12), (0.12, 0.40, 0.25)),
            "light_from_left": bool(rng.integers(2)), "exposure": rng.uniform(0.9, 1.1)}


def _smooth_noise(rng: np.random.Generator, size: int, cells: int = 4) -> np.ndarray:
    """Bilinearly upsampled Gaussian noise [size, size], std <= 1, blobs about size / cells px."""
    grid = rng.standard_normal((cells + 1, cells + 1))
    position = np.linspace(0, cells, size)
    low = np.minimum(position.astype(int), cells - 1)
    fraction = position - low
    rows = grid[low] * (1 - fraction[:, None]) + grid[low + 1] * fraction[:, None]
    return rows[:, low] * (1 - fraction) + rows[:, low + 1] * fraction


def _lighting(labels: np.ndarray, style: dict, rng: np.random.Generator) -> np.ndarray:
    """Brightness factor [size, size], about 0.5 to 1.3: cast shadows, a gradient away from the
    light, the exposure, and low-frequency grime on the building."""
    size, depth = labels.shape[0], _DEPTH[labels]
    length, direction = max(1, round(5 * size / 256)), 1 if style["light_from_left"] else -1
    padded = np.pad(depth, length)
    shadow = np.zeros(labels.shape, bool)
    for step in range(1, length + 1):  # light from above at 45 degrees: look up and toward it
        start = length - direction * step
        shadow |= padded[length - step:length - step + size, start:start + size] > depth
    building = labels != _INDEX["sky"]
    gradient = 1 + 0.12 * direction * (0.5 - np.arange(size) / size)
    grime = 1 + 0.06 * _smooth_noise(rng, size)
    factor = np.where(shadow & building, 0.6, 1.0) * style["exposure"]
    return factor * np.where(building, gradient * grime, 1.0)


def render_pair(rng: np.random.Generator, size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """One random façade: (label_map, photo), each uint8 [size, size, 3] in [0, 255].

    label_map uses PALETTE colours only; photo is the façade rendered from it.
    """
    if size < 16:
        raise ValueError(f"size must be at least 16, got {size}")
    labels, edges = _paint(_facade_rectangles(rng, size), size)
    style = _random_style(rng)
    # Group the pixels by class once (a stable sort), so each shader gets a contiguous slice.
    order = np.argsort(labels, axis=None, kind="stable")
    starts = np.searchsorted(labels.ravel()[order], np.arange(len(PALETTE) + 1))
    rows, columns = np.divmod(order, size)
    distances = edges.reshape(-1, 4)[order].T
    photo = np.empty((size * size, 3), np.float32)
    for index, name in enumerate(PALETTE):
        group = slice(starts[index], starts[index + 1])
        pixels = _Pixels(rows[group], columns[group], *distances[:, group], size)
        photo[order[group]] = _SHADERS[name](pixels, style)
    photo = photo.reshape(size, size, 3) * _lighting(labels, style, rng)[..., None]
    photo += (rng.random(photo.shape, np.float32) - 0.5) * 0.04  # sensor noise, std 0.012
    label_map = np.array(list(PALETTE.values()), np.uint8)[labels]
    return label_map, np.clip(photo * 255 + 0.5, 0, 255).astype(np.uint8)


def default_data_dir() -> pathlib.Path:
    """$PIX2PIX_TF_DATA_DIR/synthetic-v1 if that is set, else ~/.cache/pix2pix_tf/synthetic-v1."""
    base = os.environ.get("PIX2PIX_TF_DATA_DIR")
    base_path = pathlib.Path(base) if base else pathlib.Path.home() / ".cache" / "pix2pix_tf"
    return base_path.expanduser() / f"synthetic-v{FORMAT_VERSION}"


_DATASET_FILES = ("train", "val", "dataset.json")


def _read_marker(root: pathlib.Path) -> dict | None:
    try:
        return json.loads((root / "dataset.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _write_split(folder: pathlib.Path, split_index: int, count: int, size: int, seed: int) -> None:
    """Writes folder/000000.jpg ...: A (labels) | B (photo), [size, 2 * size, 3] RGB JPEG."""
    import tensorflow as tf  # here, so that render_pair alone does not pay for importing it

    folder.mkdir()
    for image_index in range(count):
        # One stream per image: val does not change when train_size does, and vice versa.
        rng = np.random.default_rng([seed, split_index, image_index])
        label_map, photo = render_pair(rng, size)
        # No chroma subsampling: it would smear the label colours across class borders.
        encoded = tf.io.encode_jpeg(np.concatenate([label_map, photo], axis=1), quality=95,
                                    chroma_downsampling=False)
        (folder / f"{image_index:06d}.jpg").write_bytes(encoded.numpy())


def make_synthetic_dataset(
    root: str | os.PathLike | None = None,
    *,
    train_size: int = 400,
    val_size: int = 50,
    image_size: int = 256,
    seed: int = 0,
) -> pathlib.Path:
    """Writes root/train/000000.jpg ... and root/val/... as A|B pairs side by side (width
    2 * image_size, height image_size), A (left) = label map, B (right) = photo; returns root
    (default_data_dir() when None). The same arguments give byte-identical files; returns at once
    when root already holds them (root/dataset.json, written last, records the arguments)."""
    for name, value, minimum in (("train_size", train_size, 1), ("val_size", val_size, 1),
                                 ("image_size", image_size, 16)):
        if not isinstance(value, (int, np.integer)) or value < minimum:
            raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    root = pathlib.Path(root).expanduser() if root is not None else default_data_dir()
    marker = {"format_version": FORMAT_VERSION, "train_size": int(train_size),
              "val_size": int(val_size), "image_size": int(image_size), "seed": int(seed)}
    if _read_marker(root) == marker:
        return root
    if root.exists() and not {path.name for path in root.iterdir()} <= set(_DATASET_FILES):
        raise FileExistsError(f"{root} holds other files; not replacing it with synthetic data")
    root.parent.mkdir(parents=True, exist_ok=True)
    # Build beside root and rename at the end, so an interrupted run never looks complete.
    temporary = pathlib.Path(tempfile.mkdtemp(prefix=f".{root.name}-partial-", dir=root.parent))
    try:
        for split_index, (split, count) in enumerate([("train", train_size), ("val", val_size)]):
            _write_split(temporary / split, split_index, count, image_size, seed)
        (temporary / "dataset.json").write_text(json.dumps(marker, indent=2) + "\n", "utf-8")
        temporary.chmod(0o755)  # mkdtemp makes it private to the user
        if _read_marker(root) != marker:  # else a concurrent run finished first: keep its copy
            if root.exists():  # marker first, so a half-deleted root never looks complete
                (root / "dataset.json").unlink(missing_ok=True)
                shutil.rmtree(root, ignore_errors=True)
            os.replace(temporary, root)
    except OSError:
        if _read_marker(root) != marker:  # losing a rename race to an identical dataset is fine
            raise
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
    return root
