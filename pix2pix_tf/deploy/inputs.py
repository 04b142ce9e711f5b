"""Which files a translation reads: the images and videos a path names (``pix2pix-tf translate --input``)."""

from __future__ import annotations

import os
import pathlib

from pix2pix_tf.data import layout
from pix2pix_tf.deploy import video


def find_inputs(path: str | os.PathLike) -> tuple[list[pathlib.Path], list[pathlib.Path]]:
    """(images, videos) named by ``path``: the file itself, or the image and video files directly in
    the folder ``path``, sorted. An animated GIF is a video, a still one an image.

    Raises ValueError naming ``path`` when it is missing, or names nothing to translate.
    """
    path = pathlib.Path(path).expanduser()
    if path.is_file():
        files = [path]
    elif path.is_dir():
        files = sorted(file for file in path.iterdir() if not file.is_dir())
    else:
        raise ValueError(f"{path} does not exist")
    videos = [file for file in files if video.is_video_name(file) and (file.suffix.lower() != ".gif"
                                                                         or video.is_animated_gif(file))]
    images = [file for file in files if layout.is_image_name(file) and file not in videos]
    if not images and not videos:
        what = "is neither an image nor a video" if path.is_file() else "holds no image files or videos"
        raise ValueError(f"{path} {what} ({', '.join(layout.IMAGE_EXTENSIONS)}; "
                         f"{', '.join(video.VIDEO_EXTENSIONS)})")
    return images, videos
