"""The paper's realism score for label maps -> photos ("FCN score"): a segmenter reads each generated photo.

Isola et al. (2017, Table 1) judge generated photos by how well an off-the-shelf segmenter,
trained on real photos, recovers the label map each photo was made from: a photo that looks
real to it is segmented like a real one. Here the segmenter is any photo -> label-map model the
package can load (a run folder, an export, a .tflite file: for example a pix2pix model trained
photo -> labels on the same data), its output snapped to the label palette. The same segmenter
on the real photos gives the ceiling the generated ones are read against.

Scores, as ``metrics.PaletteScore``: ``fcn_pixel_accuracy``, ``fcn_class_accuracy`` and
``fcn_class_iou`` for the generated photos, ``fcn_real_*`` for the real ones.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable

import numpy as np

from pix2pix_tf import palettes
from pix2pix_tf.evaluation import metrics

PREFIX = "fcn_"  # scores of the generated photos
REAL_PREFIX = "fcn_real_"  # the same segmenter on the real photos: the ceiling


@dataclasses.dataclass(frozen=True)
class Segmenter:
    """A photo -> label-map model and the palette its label maps are drawn in.

    Attributes:
      segment: float32 (batch, H, W, 3) photos in [-1, 1] -> (batch, H, W, 3) label maps in [-1, 1].
      palette: (classes, 3) uint8 RGB colours of the classes.
      source: what was loaded (for reports).
    """

    segment: Callable[[np.ndarray], np.ndarray]
    palette: np.ndarray
    source: str


def load_segmenter(model: str | os.PathLike, palette: str | None = None, mode: str | None = None) -> Segmenter:
    """The segmenter at ``model``: a run folder, a SavedModel or export folder, or a .tflite file.

    Args:
      palette: the label palette's name ("facades", "colors:#rrggbb,..."); None: the one in the
        segmenter's own config.
      mode: its inference mode ("eval" or "paper"); None: the one it was scored or exported in.
    Raises:
      ValueError naming ``model`` when it cannot be loaded, does not map RGB photos to RGB label
      maps, or no palette is known.
    """
    from pix2pix_tf.deploy.translator import Translator  # the loader of every model kind

    try:
        translator = Translator.load(model, mode)
    except ValueError as error:
        raise ValueError(f"--segmenter: {error}") from error
    channels = (translator.input_channels, translator.output_channels)
    if channels != (3, 3):
        raise ValueError(f"--segmenter {model}: maps {channels[0]}-channel images to {channels[1]}-channel "
                         "ones; a segmenter maps RGB photos to RGB label maps")
    name = palette or translator.config.data.palette
    colours = palettes.classes(name)
    if not colours:
        raise ValueError(f"--segmenter {model}: no label palette (its config says palette={name!r}); "
                         "give the one its label maps are drawn in, e.g. --palette=facades")
    return Segmenter(translator.translate_float, np.array(list(colours.values()), np.uint8), str(translator.source))


class RealismScore:
    """Accumulates the FCN-style score of generated photos and of the real ones over a split.

    Args:
      segmenter: the photo -> label-map model.
      real: also segment the real photos (the ``fcn_real_*`` ceiling).
    """

    def __init__(self, segmenter: Segmenter, real: bool = True):
        self.segmenter = segmenter
        self.generated = metrics.PaletteScore(segmenter.palette)
        self.real = metrics.PaletteScore(segmenter.palette) if real else None

    def update(self, label_maps: np.ndarray, photos: np.ndarray, outputs: np.ndarray) -> list[dict[str, float]]:
        """Adds a batch: the input label maps, the real photos and the generated ones, each
        (batch, H, W, 3) in [-1, 1]; returns each image's own scores."""
        label_maps = np.asarray(label_maps)
        if label_maps.shape[-1] != 3:
            raise ValueError(f"the FCN score reads RGB label maps as inputs, got {label_maps.shape[-1]} channel(s)")
        rows = [{PREFIX + name: value for name, value in scores.items()}
                for scores in self.generated.update(label_maps, self.segmenter.segment(np.asarray(outputs)))]
        if self.real is not None:
            real_rows = self.real.update(label_maps, self.segmenter.segment(np.asarray(photos)))
            for row, scores in zip(rows, real_rows):
                row.update({REAL_PREFIX + name: value for name, value in scores.items()})
        return rows

    def result(self) -> dict[str, float]:
        """The scores over every pixel added so far (``fcn_*``, and ``fcn_real_*`` when measured)."""
        summary = {PREFIX + name: value for name, value in self.generated.result().items()}
        if self.real is not None:
            summary.update({REAL_PREFIX + name: value for name, value in self.real.result().items()})
        return summary
