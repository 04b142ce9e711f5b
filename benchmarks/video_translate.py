"""Video through pix2pix-tf: frames per second, memory over a long clip, and flicker per inference mode.

    python benchmarks/video_translate.py --data=../shared/data/facades --direction=AtoB \
        --models=unet:runs/facades_photo2labels,student:runs/student --flicker_model=runs/facades_photo2labels

Clips are made here from the dataset's val images: a slow pan (a --size window sliding one pixel a
frame over a val image resized to twice --size) and a still scene (the same window every frame).

* speed: ``translate_video`` on a --seconds clip with each model: frames per second.
* memory: the first model on a --seconds clip and on a --long_seconds clip, each in a process of
  its own: peak RSS (streaming keeps it flat).
* flicker: temporal change of the output over that of the input (mean |frame_t - frame_t-1|), on
  the pan and the still scene, for per-frame dropout (the original pix2pix test: dropout drawn
  anew each frame, each frame's own batch statistics), paper mode (fixed dropout masks) and eval mode.

Ends with one JSON line.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import av  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402

from pix2pix_tf import hardware, run_folder, speed  # noqa: E402
from pix2pix_tf.config import Config, DataConfig  # noqa: E402
from pix2pix_tf.data import pipeline  # noqa: E402
from pix2pix_tf.deploy import video  # noqa: E402
from pix2pix_tf.deploy.translator import Translator  # noqa: E402
from pix2pix_tf.images import to_uint8  # noqa: E402
from pix2pix_tf.models.inference import inference_generator  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("data", "", "Paired dataset whose val images the clips are made of; default the built-in façades.")
flags.DEFINE_enum("direction", "AtoB", ["AtoB", "BtoA"], "Which side of the pairs is the models' input.")
flags.DEFINE_list("models", [], "NAME:PATH of run folders, SavedModels or .tflite files to time.")
flags.DEFINE_string("flicker_model", None, "Run folder whose generator the flicker is measured with.")
flags.DEFINE_list("what", ["speed", "memory", "flicker"], "Which measurements.")
flags.DEFINE_integer("size", 256, "Frame side in pixels.")
flags.DEFINE_integer("rate", 25, "Frames per second of the clips.")
flags.DEFINE_float("seconds", 10, "Length of the clip timed and of the short memory clip.")
flags.DEFINE_float("long_seconds", 120, "Length of the long memory clip.")
flags.DEFINE_integer("flicker_frames", 48, "Frames of the flicker clips.")
flags.DEFINE_integer("batch_size", 8, "Frames per model call.")
flags.DEFINE_string("memory_child", None, "Internal: MODEL,CLIP,OUTPUT: translate and print peak RSS.")


def val_image() -> np.ndarray:
    """The first val image of the input side, resized to 2 x --size, uint8."""
    config = Config(data=DataConfig(data=FLAGS.data, direction=FLAGS.direction, image_size=FLAGS.size))
    data_dir = pipeline.resolve_data_dir(config.data)
    inputs, _ = next(iter(pipeline.make_dataset(config, "val", training=False, batch_size=1, data_dir=data_dir)))
    image = tf.image.resize(inputs, (2 * FLAGS.size, 2 * FLAGS.size))
    return to_uint8(image[0]).numpy()


def frames_of(background: np.ndarray, count: int, pan: bool):
    for index in range(count):
        offset = index % FLAGS.size if pan else 0
        yield background[offset // 2 : offset // 2 + FLAGS.size, offset : offset + FLAGS.size]


def write_clip(path: pathlib.Path, frames) -> pathlib.Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=FLAGS.rate)
        stream.width = stream.height = FLAGS.size
        stream.pix_fmt, stream.options = "yuv420p", {"crf": "18"}
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")))
        container.mux(stream.encode(None))
    return path


def measure_memory(model: str, clip: pathlib.Path, output: pathlib.Path) -> float:
    command = [sys.executable, __file__, f"--memory_child={model},{clip},{output}", f"--batch_size={FLAGS.batch_size}"]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])["peak_rss_mib"]


def per_frame_dropout(generator) -> callable:
    """The original pix2pix test: dropout drawn anew for each frame, batch statistics of the frame alone."""
    return lambda frames: np.stack([to_uint8(generator(tf.cast(frame[np.newaxis], tf.float32) / 127.5 - 1.0,
                                                       training=True))[0].numpy() for frame in frames])


def main(argv: list[str]) -> None:
    del argv
    if FLAGS.memory_child:
        model, clip, output = FLAGS.memory_child.split(",")
        translator = Translator.load(model)
        video.translate_video(translator.translate_batch, clip, output, FLAGS.batch_size)
        print(json.dumps({"peak_rss_mib": round(speed._peak_rss_kib() / 1024, 1)}))
        return
    results = {"size": FLAGS.size, "rate": FLAGS.rate, "batch_size": FLAGS.batch_size, "cpu": hardware.cpu_info()}
    background = val_image()
    models = dict(entry.split(":", 1) for entry in FLAGS.models)
    with tempfile.TemporaryDirectory() as folder:
        folder = pathlib.Path(folder)
        short = write_clip(folder / "short.mp4", frames_of(background, int(FLAGS.seconds * FLAGS.rate), pan=True))
        if "speed" in FLAGS.what:
            results["frames_per_s"] = {}
            for name, path in models.items():
                translator = Translator.load(path)
                translator.translate_batch(np.zeros((FLAGS.batch_size, FLAGS.size, FLAGS.size, 3), np.uint8))
                started = time.perf_counter()
                done = video.translate_video(translator.translate_batch, short, folder / f"{name}.mp4", FLAGS.batch_size)
                rate = done["frames"] / (time.perf_counter() - started)
                results["frames_per_s"][name] = round(rate, 2)
                print(f"{name}: {rate:.1f} frames/s ({FLAGS.size} px, batch {FLAGS.batch_size}, decode + encode included)")
        if "memory" in FLAGS.what and models:
            model = next(iter(models.values()))
            long = write_clip(folder / "long.mp4", frames_of(background, int(FLAGS.long_seconds * FLAGS.rate), pan=True))
            results["peak_rss_mib"] = {f"{FLAGS.seconds:g}_s": measure_memory(model, short, folder / "m1.mp4"),
                                       f"{FLAGS.long_seconds:g}_s": measure_memory(model, long, folder / "m2.mp4")}
            print(f"peak RSS: {results['peak_rss_mib']}")
        if "flicker" in FLAGS.what and FLAGS.flicker_model:
            generator, config = run_folder.load_generator(FLAGS.flicker_model)
            modes = {"per-frame dropout": per_frame_dropout(generator)}
            for mode in ("paper", "eval"):
                model = inference_generator(generator, mode)
                modes[f"{mode} mode"] = (lambda frames, model=model: to_uint8(
                    model(tf.cast(frames, tf.float32) / 127.5 - 1.0, training=False)).numpy())
            results["flicker"] = {}
            for scene in ("pan", "still"):
                frames = np.stack(list(frames_of(background, FLAGS.flicker_frames, pan=scene == "pan")))
                for name, translate in modes.items():
                    outputs = np.concatenate([translate(frames[start : start + 8]) for start in range(0, len(frames), 8)])
                    change = video.temporal_change(outputs)
                    results["flicker"][f"{scene}, {name}"] = {
                        "output_change": round(change, 3), "input_change": round(video.temporal_change(frames), 3),
                        "ratio": None if scene == "still" else round(video.flicker(frames, outputs), 3)}
                    print(f"{scene:5s} {name:18s}: output change {change:6.2f}, input {video.temporal_change(frames):6.2f}"
                          f" -> ratio {results['flicker'][f'{scene}, {name}']['ratio']}")
    print(json.dumps(results))


if __name__ == "__main__":
    app.run(main)
