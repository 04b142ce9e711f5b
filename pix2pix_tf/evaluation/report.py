"""An evaluation people look at: ``index.html`` (input | output | target per row, sortable,
worst first), a PNG grid, and ``metrics.json``."""

from __future__ import annotations

import html
import json
import os
import pathlib

import numpy as np
import tensorflow as tf

from pix2pix_tf.evaluation import plots, realism
from pix2pix_tf.evaluation.scoring import HIGHER_IS_BETTER, Evaluation
from pix2pix_tf.files import write_text_atomically
from pix2pix_tf.images import to_uint8

_SCRIPT = """
function sortBy(column, descending) {
  const body = document.querySelector('#scores tbody');
  const rows = Array.from(body.rows);
  rows.sort((a, b) => {
    const x = parseFloat(a.cells[column].dataset.value), y = parseFloat(b.cells[column].dataset.value);
    return descending ? y - x : x - y;
  });
  rows.forEach(row => body.appendChild(row));
}
document.querySelectorAll('#scores th[data-column]').forEach(header => {
  header.addEventListener('click', () => {
    const descending = header.dataset.descending !== 'true';
    header.dataset.descending = descending;
    sortBy(Number(header.dataset.column), descending);
  });
});
"""

_STYLE = """
body { font-family: sans-serif; margin: 1.5em; }
table { border-collapse: collapse; }
td, th { padding: 4px 8px; border-bottom: 1px solid #ddd; text-align: center; }
th[data-column] { cursor: pointer; text-decoration: underline dotted; }
img { width: 192px; image-rendering: pixelated; }
"""


# What describes the images/ of a report: written once they all are, removed when an evaluation starts.
REPORT_FILES = ("metrics.json", "index.html", "grid.png")


class ReportWriter:
    """Collects images as ``evaluation.evaluate`` produces them; ``finish`` writes the report.

    Args:
      out_dir: folder for index.html, grid.png, metrics.json and images/.
      grid_images: how many images (the first ones, in dataset order) go in grid.png.
    """

    def __init__(self, out_dir: str | os.PathLike, grid_images: int = 8):
        self.out_dir = pathlib.Path(out_dir).expanduser()
        (self.out_dir / "images").mkdir(parents=True, exist_ok=True)
        for name in REPORT_FILES:  # a report of an earlier evaluation would describe the images this one overwrites
            (self.out_dir / name).unlink(missing_ok=True)
        self.grid_images = grid_images
        self._grid: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._files: dict[int, dict[str, str]] = {}

    def add(self, index: int, name: str, source: np.ndarray, target: np.ndarray, output: np.ndarray,
            scores: dict[str, float]) -> None:
        """Writes images/<index>_{input,output,target}.png; (H, W, C) float arrays in [-1, 1]."""
        files = {}
        for kind, image in (("input", source), ("output", output), ("target", target)):
            relative = f"images/{index:05d}_{kind}.png"
            tf.io.write_file(str(self.out_dir / relative), tf.io.encode_png(to_uint8(image)))
            files[kind] = relative
        self._files[index] = files
        if len(self._grid) < self.grid_images:
            self._grid.append((source, target, output))

    def finish(self, evaluation: Evaluation, info: dict) -> dict[str, pathlib.Path]:
        """Writes metrics.json (summary, per-image rows, ``info``), index.html and grid.png (unless it
        holds no image); returns the paths written, by name."""
        paths = {name: self.out_dir / name for name in REPORT_FILES}
        record = dict(info, **evaluation.summary, per_image=evaluation.rows)
        write_text_atomically(paths["metrics.json"], json.dumps(record, indent=2, sort_keys=True) + "\n")
        write_text_atomically(paths["index.html"], self._html(evaluation, info))
        if self._grid:
            inputs, targets, outputs = zip(*self._grid)
            plots.save_sample_grid(paths["grid.png"], inputs, targets, outputs,
                                   title=f"{info.get('model', '')} ({info.get('split', '')})")
        else:
            del paths["grid.png"]  # --grid_images=0: no grid, so none is listed
        return paths

    def _html(self, evaluation: Evaluation, info: dict) -> str:
        score_names = [name for name in HIGHER_IS_BETTER if name in evaluation.rows[0]]
        headers = "".join(f'<th data-column="{2 + 3 + position}" title="click to sort">{name}</th>'
                          for position, name in enumerate(score_names))
        rows = sorted(enumerate(evaluation.rows), key=lambda item: -item[1]["l1"])  # worst L1 first
        lines = []
        for index, row in rows:
            files = self._files.get(index, {})
            cells = [f'<td data-value="{index}">{index}</td>', f"<td>{html.escape(row['name'])}</td>"]
            cells += [f'<td><img src="{files[kind]}" alt="{kind}"></td>' if kind in files else "<td></td>"
                      for kind in ("input", "output", "target")]
            cells += [f'<td data-value="{row[name]}">{row[name]:.4g}</td>' for name in score_names]
            lines.append("<tr>" + "".join(cells) + "</tr>")
        summary = "".join(f"<tr><th>{html.escape(name)}</th><td>{value:.4g}</td></tr>"
                          for name, value in sorted(evaluation.summary.items()))
        details = html.escape(", ".join(f"{key}: {value}" for key, value in info.items()))
        realism_table = _realism_table(evaluation.summary)
        return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>pix2pix_tf evaluation</title><style>{_STYLE}</style></head>
<body>
<h1>Evaluation</h1>
<p>{details}</p>
<h2>Means</h2>
<table>{summary}</table>
{realism_table}
<h2>Per image (worst L1 first; click a score to sort)</h2>
<table id="scores"><thead><tr><th data-column="0">#</th><th>name</th><th>input</th><th>output</th><th>target</th>{headers}</tr></thead>
<tbody>
{chr(10).join(lines)}
</tbody></table>
<script>{_SCRIPT}</script>
</body></html>
"""


def _realism_table(summary: dict[str, float]) -> str:
    """The FCN score of the outputs beside the real photos' (the ceiling), when a segmenter was given."""
    if realism.PREFIX + "class_iou" not in summary:
        return ""
    real = realism.REAL_PREFIX + "class_iou" in summary
    rows = "".join(
        f"<tr><th>{name.replace('_', ' ')}</th><td>{summary[realism.PREFIX + name]:.4f}</td>"
        + (f"<td>{summary[realism.REAL_PREFIX + name]:.4f}</td>" if real else "") + "</tr>"
        for name in ("pixel_accuracy", "class_accuracy", "class_iou"))
    header = "<tr><th></th><th>outputs</th>" + ("<th>real photos (ceiling)</th>" if real else "") + "</tr>"
    return (f"<h2>Realism: the FCN score</h2><p>A segmenter trained on real photos reads each photo; its label map "
            f"is compared with the input label map.</p><table>{header}{rows}</table>")
