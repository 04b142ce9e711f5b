"""pix2pix-tf translate: images, videos or a folder of them -> translated PNGs and videos of the same sizes.

  pix2pix-tf translate --model=runs/facades --input=photo.jpg --output=out          # out/photo.png
  pix2pix-tf translate --model=runs/facades --input=photo.jpg --output=result.png   # that one file
  pix2pix-tf translate --model=saved_models/facades --input=photos/ --output=out
  pix2pix-tf translate --model=saved_models/facades/model_float16.tflite --input=photos/ --output=out
  pix2pix-tf translate --model=runs/facades --input=clip.mp4 --output=out.mp4     # video: same rate, size, audio
  pix2pix-tf translate --model=runs/facades --input=clips/ --output=out            # every image and video in clips/
"""

from __future__ import annotations

import pathlib
import time

from absl import flags, logging

from pix2pix_tf.cli import errors
from pix2pix_tf.config import INFERENCE_MODES

FLAGS = flags.FLAGS
flags.DEFINE_string("model", None, "A run folder, a SavedModel or export folder, or a .tflite file.")
flags.DEFINE_string("input", None, "An image file, or a folder whose image files are all translated.")
flags.DEFINE_string("output", None, "Folder for the outputs: <input stem>.png, each the input's size. For one "
                    "image, a .png or .jpg file name writes that file; for one video, a .mp4, .mov, .mkv, .webm "
                    "or .gif file name.")
flags.DEFINE_enum("mode", None, list(INFERENCE_MODES), "Inference mode of a run folder (default: the run's "
                  "eval_mode, the mode it was scored in); an export keeps the mode it was exported in.")
flags.DEFINE_integer("tile_size", None, "Translate images larger than this in overlapping tiles of this "
                     "side, blended without seams (bounds memory). A .tflite always tiles at its input size.")
flags.DEFINE_bool("skip_bad_images", False, "Leave out unreadable images and videos (with a warning) instead "
                  "of stopping.")
flags.DEFINE_integer("batch_size", 8, "Video frames per model call (memory holds one batch, whatever the length).")


def main(argv: list[str]) -> None:
    for name in ("model", "input", "output"):
        if not FLAGS[name].value:
            errors.fail("translate", f"--{name} is required")
    with errors.reported_errors("translate"):
        from pix2pix_tf.deploy.inputs import find_inputs
        from pix2pix_tf.deploy.translator import Translator

        translator = Translator.load(FLAGS.model, FLAGS.mode, FLAGS.tile_size)
        try:
            images, videos = find_inputs(FLAGS.input)
        except ValueError as error:
            raise ValueError(f"--input={error}") from error
        if videos:
            _check_video_output(FLAGS.output)
        print(f"model: {translator.source} ({translator.mode or 'unknown'} mode), {len(images)} image(s)"
              + (f", {len(videos)} video(s)" if videos else ""))
        start = time.perf_counter()
        written, written_videos, skipped = [], [], 0
        if images:
            def show_progress(index: int, output) -> None:
                print(f"[{index + 1}/{len(images)}] {output}", flush=True)

            if _is_video_output(FLAGS.output):
                raise ValueError(f"--output={FLAGS.output} is a video file name; images need an output folder "
                                 "(or, for one image, a .png or .jpg file name)")
            done = translator.translate_files(images, FLAGS.output, FLAGS.skip_bad_images, show_progress)
            written += done
            skipped += len(images) - len(done)
        for source in videos:
            try:
                written_videos.append(_translate_video(translator, source,
                                                       _video_output(source, FLAGS.output, len(videos))))
            except ValueError as error:
                if not FLAGS.skip_bad_images:
                    raise
                logging.warning("skipping %s", error)
                skipped += 1
    seconds = time.perf_counter() - start
    print(f"translated {len(written)} image(s)" + (f" and {len(written_videos)} video(s)" if videos else "")
          + f" into {FLAGS.output} in {seconds:.1f} s"
          + (f"; skipped {skipped} unreadable" if skipped else ""))


def _is_video_output(output: str) -> bool:
    from pix2pix_tf.deploy import video

    return video.is_video_name(output)


def _check_video_output(output: str) -> None:
    """ValueError naming --output when it names a file no video can be written to (an image, or a
    video container translate does not write) rather than a folder; an existing folder is one."""
    from pix2pix_tf.data import layout
    from pix2pix_tf.deploy import video

    suffix = pathlib.Path(output).suffix.lower()
    not_video = (*layout.IMAGE_EXTENSIONS, *layout.UNSUPPORTED_EXTENSIONS, *video.OTHER_VIDEO_EXTENSIONS)
    if suffix in not_video and not video.is_video_name(output) and not pathlib.Path(output).expanduser().is_dir():
        raise ValueError(f"--output={output}: videos are written as {', '.join(video.VIDEO_EXTENSIONS)} files "
                         f"or into a folder; {suffix} is neither")


def _video_output(source: pathlib.Path, output: str, count: int) -> pathlib.Path:
    """--output itself for one video given a video file name; else <output>/<input name>."""
    output_path = pathlib.Path(output).expanduser()
    if count == 1 and _is_video_output(output) and not output_path.is_dir():
        return output_path
    return output_path / source.name


def _translate_video(translator, source: pathlib.Path, destination: pathlib.Path) -> pathlib.Path:
    from pix2pix_tf.deploy import video
    from pix2pix_tf.progress import Progress

    info = video.probe(source)
    print(f"{source}: {info.width}x{info.height}, {float(info.rate):.3g} frames/s, "
          f"{info.frames or 'unknown number of'} frames, audio: {info.audio or 'none'}", flush=True)
    progress = Progress(info.frames, 0, 1, label="frame", unit="frames/s")
    result = video.translate_video(translator.translate_batch, source, destination, FLAGS.batch_size,
                                   on_progress=lambda done, total: progress.update(done, {}))
    progress.close()
    print(f"{destination}: {result['frames']} frames in {result['seconds']:.1f} s "
          f"({result['frames'] / max(result['seconds'], 1e-9):.1f} frames/s, {result['batch']} per batch), "
          f"audio {result['audio']}", flush=True)
    return destination
