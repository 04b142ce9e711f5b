"""Video in, video out: containers, rate, size, audio, streaming batches, steady frames and bad files.
Every clip is made here with PyAV (tiny, a second or two)."""

from __future__ import annotations

import fractions
import pathlib

import av
import numpy as np
import pytest
import tensorflow as tf
from conftest import run_cli

from pix2pix_tf.deploy import video


def scene(index: int, height: int = 48, width: int = 64, pan: int = 1) -> np.ndarray:
    """A frame of a slow pan over a fixed pattern: ``pan`` pixels per frame (0: a still scene)."""
    y, x = np.mgrid[0:height, 0:width]
    x = x + pan * index
    image = np.stack([(x * 4) % 256, (y * 5) % 256, ((x // 8 + y // 8) % 2) * 200 + 30], axis=-1)
    return image.astype(np.uint8)


def make_clip(path: pathlib.Path, frames: int = 24, rate: int = 24, size=(48, 64), audio: bool = True,
              pan: int = 1, codec: str | None = None, sample_rate: int = 48000) -> pathlib.Path:
    """A clip of ``frames`` frames at ``rate`` frames/s, with a sine tone of ``sample_rate`` Hz samples
    when ``audio`` (not for GIF); ``codec``: default by the file's suffix."""
    suffix = path.suffix
    codec = codec or {".gif": "gif", ".webm": "libvpx-vp9"}.get(suffix, "libx264")
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.height, stream.width = size
        stream.pix_fmt = {"gif": "pal8", "mjpeg": "yuvj420p"}.get(codec, "yuv420p")
        sound = None
        if audio and suffix != ".gif":
            sound = container.add_stream("libopus" if suffix == ".webm" else "aac", rate=sample_rate)
        for index in range(frames):
            image = scene(index, *size, pan=pan)
            frame = (av.VideoFrame.from_ndarray(video._palettized(image), format="pal8") if codec == "gif"
                     else av.VideoFrame.from_ndarray(image, format="rgb24"))
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
        if sound is not None:
            samples = sample_rate * frames // rate
            tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(samples) / sample_rate)).astype(np.float32)[np.newaxis]
            chunk = av.AudioFrame.from_ndarray(tone, format="fltp", layout="mono")
            chunk.sample_rate = sample_rate
            container.mux(sound.encode(chunk))
            container.mux(sound.encode(None))
    return path


def make_vfr_clip(path: pathlib.Path, intervals=(3000, 3003, 3600, 4500, 450, 2997) * 2) -> pathlib.Path:
    """A variable-rate clip as a phone records it: a 90 kHz time base, frames ``intervals`` apart
    (33.3, 33.4, 40, 50, 5 and 33.3 ms by default), no audio."""
    time_base = fractions.Fraction(1, 90000)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.time_base = stream.codec_context.time_base = time_base
        for index, pts in enumerate(np.cumsum((0, *intervals))):
            frame = av.VideoFrame.from_ndarray(scene(index), format="rgb24")
            frame.pts, frame.time_base = int(pts), time_base
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def frame_times(path: pathlib.Path) -> list[float]:
    """Seconds at which each frame of the clip shows."""
    with av.open(str(path)) as container:
        return [float(frame.pts * frame.time_base) for frame in container.decode(video=0)]


def audio_seconds(path: pathlib.Path) -> float:
    """Seconds of sound the clip's audio track decodes to."""
    with av.open(str(path)) as container:
        return sum(frame.samples / frame.sample_rate for frame in container.decode(audio=0))


def decoded(path: pathlib.Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)])


def invert(frames: np.ndarray) -> np.ndarray:
    return 255 - frames


@pytest.mark.parametrize("source, target, audio", [
    (".mp4", ".mp4", "copied"), (".mp4", ".webm", "re-encoded"), (".webm", ".mkv", "copied"),
    (".mov", ".mov", "copied"), (".mkv", ".mp4", "copied"), (".gif", ".mp4", "none"),
    (".mp4", ".gif", "dropped (GIF has no audio)"),
])
def test_each_container_comes_back_at_its_rate_size_and_frames_with_its_audio(source, target, audio, tmp_path):
    clip = make_clip(tmp_path / f"in{source}", frames=20, rate=20 if source != ".gif" else 25)
    result = video.translate_video(invert, clip, tmp_path / f"out{target}", batch_size=6)
    info, original = video.probe(tmp_path / f"out{target}"), video.probe(clip)
    assert (result["frames"], result["audio"]) == (20, audio)
    assert (info.width, info.height) == (64, 48)
    if target != ".gif":  # GIF counts time in 1/100 s: 20 frames/s comes back as 20, 25 as 25, 30 as 33.3
        assert info.rate == original.rate
    assert info.duration_s == pytest.approx(original.duration_s, abs=0.11)
    assert (info.audio is not None) == (audio in ("copied", "re-encoded"))
    frames_in, frames_out = decoded(clip), decoded(tmp_path / f"out{target}")
    assert len(frames_out) == 20
    assert np.abs(frames_out.astype(int) - (255 - frames_in.astype(int))).mean() < 12  # lossy codecs, both ways


@pytest.mark.parametrize("target", [".mp4", ".gif"])
def test_a_variable_rate_clip_keeps_each_frame_at_its_time(target, tmp_path):
    """Frames were counted in 1/average rate, where a phone clip's frames collide: MP4, MOV and GIF
    refused the repeated times. Each frame keeps its own time now (GIF's to its 1/100 s, and never
    two frames at one time)."""
    clip = make_vfr_clip(tmp_path / "phone.mp4")
    result = video.translate_video(invert, clip, tmp_path / f"out{target}", batch_size=4)
    times_in, times_out = frame_times(clip), frame_times(tmp_path / f"out{target}")
    assert result["frames"] == len(times_out) == len(times_in) == 13
    assert times_out == pytest.approx(times_in, abs=0.011 if target == ".gif" else 1e-6)
    assert all(later > earlier for earlier, later in zip(times_out, times_out[1:]))
    assert video.probe(tmp_path / f"out{target}").duration_s == pytest.approx(video.probe(clip).duration_s, abs=0.02)


def test_audio_at_a_rate_the_encoder_does_not_take_is_resampled(tmp_path):
    """Opus takes 48, 24, 16, 12 or 8 kHz: 44.1 kHz audio (the usual AAC rate) made every .webm
    output fail to open its encoder. It is encoded at 48 kHz now, PyAV resampling it."""
    clip = make_clip(tmp_path / "in.mp4", frames=20, rate=20, sample_rate=44100)
    result = video.translate_video(invert, clip, tmp_path / "out.webm")
    assert result["audio"] == "re-encoded" and video.probe(tmp_path / "out.webm").audio == "opus"
    assert audio_seconds(tmp_path / "out.webm") == pytest.approx(audio_seconds(clip), abs=0.05)
    with av.open(str(tmp_path / "out.webm")) as container:
        assert container.streams.audio[0].rate == 48000


def test_frames_stream_through_in_batches(tmp_path):
    clip = make_clip(tmp_path / "in.mp4", frames=23, audio=False)
    sizes, progress = [], []

    def translate_batch(frames):
        sizes.append(len(frames))
        return frames

    video.translate_video(translate_batch, clip, tmp_path / "out.mp4", batch_size=5,
                          on_progress=lambda done, total: progress.append((done, total)))
    assert sizes == [5, 5, 5, 5, 3]  # never more than a batch in memory
    assert progress[-1] == (23, 23) and [done for done, _ in progress] == [5, 10, 15, 20, 23]


def test_translator_batches_equal_frame_by_frame(translators):  # noqa: F811
    frames = np.stack([scene(index, 40, 52) for index in range(3)])
    for kind, translator in translators.items():
        expected = np.stack([translator.translate(frame) for frame in frames]).astype(int)
        batched = translator.translate_batch(frames).astype(int)
        # A batch of 3 may take other oneDNN kernels than a batch of 1: float round-off can move a value
        # across a rounding boundary (1 level, a handful of values); batch statistics would move thousands.
        np.testing.assert_allclose(batched, expected, atol=1, rtol=0, err_msg=kind)
        assert (batched != expected).mean() < 1e-3, kind


def _truncated(tmp_path: pathlib.Path) -> pathlib.Path:
    """A clip cut at 60 %, its index at the front (as a download that stopped)."""
    whole = tmp_path / "whole.mp4"
    with av.open(str(whole), "w", options={"movflags": "faststart"}) as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        rng = np.random.default_rng(0)
        for _ in range(40):
            image = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode(None))
    data = whole.read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: int(len(data) * 0.6)])
    return tmp_path / "cut.mp4"


def _truncated_matroska(tmp_path: pathlib.Path) -> pathlib.Path:
    """An MJPEG .mkv cut at 60 %: Matroska declares no frame count, only its duration."""
    data = make_clip(tmp_path / "whole.mkv", frames=48, audio=False, codec="mjpeg").read_bytes()
    (tmp_path / "cut.mkv").write_bytes(data[: int(len(data) * 0.6)])
    return tmp_path / "cut.mkv"


def _truncated_gif(tmp_path: pathlib.Path) -> pathlib.Path:
    """An animated GIF cut at 60 %: it declares neither a frame count nor a duration."""
    data = make_clip(tmp_path / "whole.gif", frames=24, audio=False, codec="gif").read_bytes()
    (tmp_path / "cut.gif").write_bytes(data[: int(len(data) * 0.6)])
    return tmp_path / "cut.gif"


def _no_frames(tmp_path: pathlib.Path) -> pathlib.Path:
    with av.open(str(tmp_path / "empty.mkv"), "w") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        container.start_encoding()
    return tmp_path / "empty.mkv"


def _unknown_codec(tmp_path: pathlib.Path) -> pathlib.Path:
    """An MPEG-4 clip in Matroska whose codec id is renamed to one no decoder knows."""
    data = make_clip(tmp_path / "mpeg4.mkv", frames=4, audio=False, codec="mpeg4").read_bytes()
    (tmp_path / "odd.mkv").write_bytes(data.replace(b"V_MPEG4/ISO/ASP", b"V_QQQQQ/ISO/ASP"))
    return tmp_path / "odd.mkv"


@pytest.mark.parametrize("make, message", [
    (_truncated, r"cut.mp4: truncated or damaged: \d+ of the 40 frames"),
    (_truncated_matroska, r"cut.mkv: truncated or damaged: its frames end at 1\.\d\d s of the 2.00 s"),
    (_truncated_gif, r"cut.gif: truncated or damaged: the GIF ends without its trailer \(\d+ frames decoded\)"),
    (lambda tmp_path: tmp_path / "text.mp4", "text.mp4: not a video FFmpeg can read"),
    (_no_frames, "empty.mkv: not a video FFmpeg can read, or truncated"),
    (_unknown_codec, "odd.mkv: unsupported video codec"),
])
def test_a_bad_video_is_one_error_naming_it_and_leaves_nothing_at_the_output(make, message, tmp_path):
    (tmp_path / "text.mp4").write_text("not a video\n")
    source = make(tmp_path)
    (tmp_path / "out").mkdir()
    with pytest.raises(ValueError, match=message):
        video.translate_video(invert, source, tmp_path / "out" / "result.mp4")
    assert list((tmp_path / "out").iterdir()) == []  # no output, no temporary file


def test_a_gif_whose_frame_declares_billions_of_pixels_is_named_not_a_traceback(tmp_path):
    """Pillow refuses to open it (DecompressionBombError, not an OSError): it was a traceback while
    the inputs were listed; now the image reader names it."""
    from PIL import Image

    from pix2pix_tf.data import checks
    from pix2pix_tf.deploy.inputs import find_inputs

    frames = [Image.new("RGB", (1, 1), colour) for colour in ("red", "green")]
    frames[0].save(tmp_path / "small.gif", save_all=True, append_images=frames[1:], duration=100)
    data = bytearray((tmp_path / "small.gif").read_bytes())
    descriptor = data.index(b"\x2c")  # the first frame's image descriptor: left, top, width, height
    data[descriptor + 5:descriptor + 9] = (60000).to_bytes(2, "little") * 2
    (tmp_path / "bomb.gif").write_bytes(bytes(data))
    assert find_inputs(tmp_path / "bomb.gif") == ([tmp_path / "bomb.gif"], [])
    assert checks.read_problem(str(tmp_path / "bomb.gif")).startswith("unreadable")


def test_frames_over_the_pixel_limit_are_refused_before_any_is_decoded(tmp_path, monkeypatch):
    clip = make_clip(tmp_path / "in.mkv", frames=4, audio=False)
    monkeypatch.setattr(video, "MAX_FRAME_PIXELS", 64 * 48 - 1)

    def never(frames):
        raise AssertionError("a frame was decoded and translated")

    with pytest.raises(ValueError, match=r"in.mkv: frames of 64 x 48 pixels, more than the 0 megapixel limit"):
        video.translate_video(never, clip, tmp_path / "out.mp4")
    with pytest.raises(ValueError, match="in.mkv: frames of 64 x 48 pixels"):
        video.probe(clip)  # what translate prints first
    assert sorted(path.name for path in tmp_path.iterdir()) == ["in.mkv"]


def test_large_frames_go_through_in_smaller_batches(tmp_path, monkeypatch):
    """A batch holds at most MAX_BATCH_PIXELS: memory follows the frame size, not --batch_size."""
    clip = make_clip(tmp_path / "in.mp4", frames=7, audio=False)
    monkeypatch.setattr(video, "MAX_BATCH_PIXELS", 2 * 64 * 48 + 1)
    sizes = []

    def counting(frames):
        sizes.append(len(frames))
        return invert(frames)

    result = video.translate_video(counting, clip, tmp_path / "out.mp4", batch_size=8)
    assert (result["frames"], result["batch"], sizes) == (7, 2, [2, 2, 2, 1])


def test_two_runs_writing_one_output_each_finish_with_a_whole_video(tmp_path):
    """Temporary files have names of their own: the run that renames last leaves its video whole."""
    clip = make_clip(tmp_path / "in.mp4", frames=6, audio=False)
    output = tmp_path / "out.gif"  # GIF: each frame is written as it comes, so the first run's file is open
    calls, inner = [], []

    def first_run(frames):  # a second run to the same output starts and ends while the first one writes
        calls.append(len(frames))
        if len(calls) == 2:
            inner.append(video.translate_video(lambda frames: frames, clip, output, batch_size=2))
        return invert(frames)

    assert video.translate_video(first_run, clip, output, batch_size=2)["frames"] == 6
    assert inner[0]["frames"] == 6
    frames_in, frames_out = decoded(clip), decoded(output)
    assert len(frames_out) == 6
    assert np.abs(frames_out.astype(int) - (255 - frames_in.astype(int))).mean() < 12  # the first run's frames
    assert sorted(path.name for path in tmp_path.iterdir()) == ["in.mp4", "out.gif"]


def test_output_must_be_a_video_name_and_never_the_input(tmp_path):
    clip = make_clip(tmp_path / "in.mp4", frames=4, audio=False)
    with pytest.raises(ValueError, match="needs a video suffix"):
        video.translate_video(invert, clip, tmp_path / "out.png")
    with pytest.raises(ValueError, match="would overwrite it"):
        video.translate_video(invert, clip, clip)
    assert len(decoded(clip)) == 4


def test_a_video_ffmpeg_cannot_write_is_named_by_its_output_not_the_temporary_file(tmp_path, monkeypatch):
    """FFmpeg's error named the hidden .NAME.HASH.partial.EXT file, which the user never chose."""
    clip = make_clip(tmp_path / "in.mp4", frames=6, audio=False)
    (tmp_path / "out").mkdir()
    times = iter(range(100))
    monkeypatch.setattr(video, "_output_pts", lambda *args: next(times) // 2)  # two frames at each time
    with pytest.raises(ValueError) as raised:
        video.translate_video(invert, clip, tmp_path / "out" / "result.mp4")
    assert str(raised.value) == f"{tmp_path / 'out' / 'result.mp4'}: could not write the video (Invalid argument)"
    assert list((tmp_path / "out").iterdir()) == []  # no output, no temporary file


def test_flicker_is_the_frame_to_frame_change_of_the_output_over_the_input():
    still = [scene(0)] * 4
    pan = [scene(index) for index in range(4)]
    assert video.temporal_change(still) == 0.0
    assert video.flicker(pan, pan) == pytest.approx(1.0)
    noisy = [frame ^ np.uint8(index % 2) for index, frame in enumerate(still)]
    assert video.temporal_change(noisy) == pytest.approx(1.0)


def test_deterministic_modes_keep_a_still_scene_still_where_per_frame_dropout_flickers(models):  # noqa: F811
    """The original pix2pix test draws dropout anew for every frame: a still scene flickers. Both
    of our inference modes (paper: fixed masks; eval) give a still scene a still output, and a
    pan no more change than the scene's."""
    import keras

    from pix2pix_tf.config import ModelConfig
    from pix2pix_tf.deploy.translator import Translator
    from pix2pix_tf.models.generators import build_generator
    from pix2pix_tf.models.inference import inference_generator

    still = np.stack([scene(0, 32, 32, pan=0)] * 6)
    pan = np.stack([scene(index, 32, 32) for index in range(6)])
    for mode in ("paper", "eval"):
        translator = Translator.load(models["run"], mode)
        assert video.temporal_change(translator.translate_batch(still)) == 0.0, mode
        assert video.flicker(pan, translator.translate_batch(pan)) < 3, mode
    # A U-Net with dropout (64 px, 8 filters): its inference modes against per-frame dropout.
    generator = build_generator(ModelConfig(filters=8), 64)
    assert any(isinstance(layer, keras.layers.Dropout) for layer in generator.layers)
    still = tf.constant(np.stack([scene(0, 64, 64, pan=0)] * 4), tf.float32) / 127.5 - 1
    for mode in ("paper", "eval"):
        outputs = inference_generator(generator, mode)(still, training=False)
        assert video.temporal_change((outputs.numpy() + 1) * 127.5) == 0.0, mode
    per_frame = [generator(frame[tf.newaxis], training=True)[0].numpy() for frame in still]
    assert video.temporal_change([(frame + 1) * 127.5 for frame in per_frame]) > 1.0


@pytest.mark.slow
def test_command_translates_a_video_and_a_folder_of_images_and_videos(models, tmp_path):  # noqa: F811
    (tmp_path / "clips").mkdir()
    clip = make_clip(tmp_path / "clips" / "walk.mp4", frames=12)
    make_clip(tmp_path / "clips" / "loop.gif", frames=6)
    (tmp_path / "clips" / "still.png").write_bytes(tf.io.encode_png(scene(0)).numpy())
    result = run_cli("translate", f"--model={models['run']}", f"--input={clip}", f"--output={tmp_path / 'one.mp4'}",
                     "--batch_size=4")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "frame 12/12" in result.stdout and "ETA" in result.stdout and "audio copied" in result.stdout
    assert video.probe(tmp_path / "one.mp4").frames == 12
    result = run_cli("translate", f"--model={models['tflite']}", f"--input={tmp_path / 'clips'}",
                     f"--output={tmp_path / 'out'}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["loop.gif", "still.png", "walk.mp4"]
    assert "translated 1 image(s) and 2 video(s)" in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("name", ["x.avi", "x.png"])
def test_command_refuses_an_output_named_as_a_file_it_cannot_write_a_video_to(name, models, tmp_path):  # noqa: F811
    """--output=x.avi (or x.png) for a video became a folder x.avi/ holding the input's name."""
    clip = make_clip(tmp_path / "clip.mp4", frames=4, audio=False)
    result = run_cli("translate", f"--model={models['run']}", f"--input={clip}", f"--output={tmp_path / name}")
    assert result.returncode == 2
    assert f"error: --output={tmp_path / name}: videos are written as .mp4, .mov, .mkv, .webm, .gif files" \
        in result.stderr and "Traceback" not in result.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["clip.mp4"]


@pytest.mark.slow
def test_command_names_a_bad_video_unless_told_to_skip_it(models, tmp_path):  # noqa: F811
    (tmp_path / "clips").mkdir()
    make_clip(tmp_path / "clips" / "good.mp4", frames=6, audio=False)
    (tmp_path / "clips" / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 not really")
    flags = [f"--model={models['run']}", f"--input={tmp_path / 'clips'}", f"--output={tmp_path / 'out'}"]
    result = run_cli("translate", *flags)
    assert result.returncode == 2
    assert "broken.mp4: not a video FFmpeg can read" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out" / "broken.mp4").exists()
    result = run_cli("translate", *flags, "--skip_bad_images")
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["good.mp4"]
    assert "skipped 1 unreadable" in result.stdout
