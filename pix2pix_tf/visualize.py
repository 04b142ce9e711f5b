"""Pictures people look at: sample grids of input | target | output."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def to_uint8(images) -> np.ndarray:
    """[-1, 1] float images -> uint8 [0, 255], same shape."""
    return np.clip(np.round((np.asarray(images) + 1.0) * 127.5), 0, 255).astype(np.uint8)


def save_sample_grid(
    path: str | os.PathLike, inputs, targets, outputs, title: str = ""
) -> None:
    """Writes a PNG with one row per sample: input | target | output.

    Args:
      inputs, targets, outputs: (n, H, W, 1 or 3) float arrays in [-1, 1].
    """
    columns = (("input", inputs), ("target", targets), ("output", outputs))
    rows = len(inputs)
    figure, axes = plt.subplots(rows, 3, figsize=(6, 2 * rows + 0.4), squeeze=False)
    for row in range(rows):
        for column, (name, images) in enumerate(columns):
            image = to_uint8(images[row])
            axis = axes[row][column]
            axis.imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray", vmin=0, vmax=255)
            axis.set_xticks([])
            axis.set_yticks([])
            if row == 0:
                axis.set_title(name)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    temp_path = f"{os.fspath(path)}.tmp.png"
    figure.savefig(temp_path, dpi=100)
    plt.close(figure)
    os.replace(temp_path, path)
