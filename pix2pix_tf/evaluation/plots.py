"""Pictures people look at: grids of images (input | target | output samples, runs side by side) and curves."""

from __future__ import annotations

import itertools
import os
import pathlib
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from pix2pix_tf.images import to_uint8  # noqa: E402


def save_figure(figure, path: str | os.PathLike, title: str = "") -> None:
    """Writes a matplotlib figure atomically (temp file, then rename) and closes it, in the format its
    suffix names (PNG for .png or none; .jpg, .svg and .pdf as matplotlib writes them)."""
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    temp_path = f"{os.fspath(path)}.tmp{pathlib.Path(path).suffix or '.png'}"
    figure.savefig(temp_path, dpi=100)
    plt.close(figure)
    os.replace(temp_path, path)


def save_sample_grid(
    path: str | os.PathLike, inputs, targets, outputs, title: str = ""
) -> None:
    """Writes a PNG with one row per sample: input | target | output.

    Args:
      inputs, targets, outputs: (n, H, W, 1 or 3) float arrays in [-1, 1].
    """
    save_image_grid(path, [("input", inputs), ("target", targets), ("output", outputs)], title)


def save_image_grid(path: str | os.PathLike, columns: Sequence[tuple[str, Sequence]], title: str = "",
                    row_labels: Sequence[str] = ()) -> None:
    """Writes a PNG of image columns, one row per image: ``columns`` holds (heading, images) pairs
    of equal length, each image (H, W, 1 or 3) float in [-1, 1] or uint8; ``row_labels`` names the
    rows on the left (optional)."""
    rows = len(columns[0][1])
    figure, axes = plt.subplots(rows, len(columns), figsize=(2 * len(columns), 2 * rows + 0.4), squeeze=False)
    for column, (heading, images) in enumerate(columns):
        for row in range(rows):
            image = np.asarray(images[row])
            image = image if image.dtype == np.uint8 else to_uint8(image).numpy()
            axis = axes[row][column]
            axis.imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray", vmin=0, vmax=255)
            axis.set_xticks([])
            axis.set_yticks([])
        axes[0][column].set_title(heading, fontsize=9)
    for row, label in enumerate(row_labels):
        axes[row][0].set_ylabel(label, fontsize=8)
    save_figure(figure, path, title)


def read_scalars(logdir: str | os.PathLike) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Every scalar in the TensorBoard event files under ``logdir``: tag -> (steps, values), sorted by step.

    A step logged twice (a resumed run repeats the steps after its last checkpoint) keeps its latest value.
    A file that ends in a truncated or damaged record (a run killed mid-write, or still writing) gives
    the events before it, with a warning naming it; one that cannot be read at all (a folder, a dangling
    link, a FIFO) is left out with a warning.
    """
    import pathlib

    import tensorflow as tf
    from absl import logging
    from google.protobuf import message

    from pix2pix_tf import files

    series: dict[str, dict[int, float]] = {}
    for path in sorted(pathlib.Path(logdir).expanduser().rglob("events.out.tfevents.*")):
        if path.exists() and not path.is_file() and not path.is_dir():  # reading a FIFO blocks, even SIGTERM
            logging.warning("%s cannot be read (not a regular file: a FIFO, socket or device): leaving it out", path)
            continue
        records = iter(tf.data.TFRecordDataset(str(path)))
        for count in itertools.count():
            try:
                event = tf.compat.v1.Event.FromString(next(records).numpy())
            except StopIteration:
                break
            except (tf.errors.DataLossError, message.DecodeError) as error:
                reason = files.op_error_text(error)
                logging.warning("%s is truncated or damaged after %d events (%s): plotting those", path, count, reason)
                break
            except tf.errors.OpError as error:  # a folder, a dangling or looping link: not a file to read
                reason = files.op_error_text(error).split(f"{path}; ")[-1]  # TF's op details and the path off
                logging.warning("%s cannot be read (%s): leaving it out", path, reason)
                break
            for value in event.summary.value:
                if value.HasField("tensor") and value.tensor.dtype == tf.float32.as_datatype_enum \
                        and not value.tensor.tensor_shape.dim:
                    series.setdefault(value.tag, {})[event.step] = float(tf.make_ndarray(value.tensor))
    return {tag: (np.array(sorted(points)), np.array([points[step] for step in sorted(points)]))
            for tag, points in series.items()}


# Panels of the curves plot: a title and the scalar tags drawn in it.
CURVE_PANELS = (
    ("G adversarial loss", ("train/g_gan",)),
    ("G reconstruction loss (unweighted)", ("train/g_recon",)),
    ("D loss", ("train/d_loss",)),
    ("D(real), D(fake)", ("train/d_real", "train/d_fake")),
    ("learning rate", ("train/learning_rate",)),
    ("val L1 (lower is better)", ("val/l1",)),
    ("val PSNR dB", ("val/psnr",)),
    ("val SSIM", ("val/ssim",)),
)


def save_curves(path: str | os.PathLike, scalars: dict[str, tuple[np.ndarray, np.ndarray]], title: str = "") -> int:
    """Writes a PNG of loss and validation curves (panels of ``CURVE_PANELS`` that have data); returns the panel count.

    Raises ValueError when ``scalars`` holds none of the known tags.
    """
    panels = [(name, [tag for tag in tags if tag in scalars]) for name, tags in CURVE_PANELS]
    panels = [(name, tags) for name, tags in panels if tags]
    if not panels:
        raise ValueError(f"no training or validation scalars to plot (found: {sorted(scalars) or 'none'})")
    columns = min(3, len(panels))
    rows = -(-len(panels) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4.5 * columns, 3.2 * rows), squeeze=False)
    for axis, (name, tags) in zip(axes.flat, panels):
        for tag in tags:
            steps, values = scalars[tag]
            axis.plot(steps, values, label=tag.split("/", 1)[1], linewidth=1)
        axis.set_title(name)
        axis.set_xlabel("step")
        axis.grid(alpha=0.3)
        if len(tags) > 1:
            axis.legend()
    for axis in list(axes.flat)[len(panels):]:
        axis.axis("off")
    save_figure(figure, path, title)
    return len(panels)
