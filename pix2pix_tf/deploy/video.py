"""Video in, video out: a clip's frames through a Translator, streamed, at the clip's frame times and size.

Decoding and encoding use PyAV, whose wheels bundle FFmpeg (nothing is downloaded at run time).
Frames stream through in batches: memory holds one batch, whatever the clip's length. The audio
track is copied when the output container takes its codec, re-encoded otherwise (an animated GIF
has none). The output is written to a temporary file beside it and renamed at the end, so a
failure never leaves half a video at the output path.
"""

from __future__ import annotations

import dataclasses
import fractions
import os
import pathlib
import time
import uuid
from collections.abc import Callable, Iterator

import numpy as np

from pix2pix_tf.data.checks import MAX_PIXELS

# A frame may hold as many pixels as an image translate reads (checks.MAX_PIXELS): a stream's
# declared size is checked before any frame is decoded, and each decoded frame against it.
MAX_FRAME_PIXELS = MAX_PIXELS
# The frames of one batch hold at most this many pixels (8 full-HD frames): large frames go
# through in smaller batches, down to one, so memory follows the frame size, not batch_size.
MAX_BATCH_PIXELS = 8 * 1920 * 1080
# A clip whose decoded frames (or audio) end this many seconds or more before the duration its
# container declares is reported as truncated (Matroska and WebM declare no frame count).
TRUNCATION_TOLERANCE_S = 0.5

# Containers translate reads and writes: suffix -> (video encoder, pixel format for even sizes).
VIDEO_FORMATS = {
    ".mp4": ("libx264", "yuv420p"),
    ".mov": ("libx264", "yuv420p"),
    ".mkv": ("libx264", "yuv420p"),
    ".webm": ("libvpx-vp9", "yuv420p"),
    ".gif": ("gif", "pal8"),
}
VIDEO_EXTENSIONS = tuple(VIDEO_FORMATS)
# Video suffixes FFmpeg knows that translate does not write: an output so named is refused, not
# taken for a folder's name.
OTHER_VIDEO_EXTENSIONS = (".avi", ".m4v", ".wmv", ".flv", ".mpg", ".mpeg", ".ts", ".m2ts", ".mts", ".3gp", ".ogv",
                          ".vob")
# The audio encoder of each container, when the input's audio codec cannot be copied into it.
_AUDIO_ENCODERS = {".mp4": "aac", ".mov": "aac", ".mkv": "aac", ".webm": "libopus"}
# Audio codecs each container takes as they are (anything else is re-encoded).
_AUDIO_COPYABLE = {".mp4": {"aac", "mp3", "ac3", "opus", "alac"}, ".mov": {"aac", "mp3", "ac3", "alac", "pcm_s16le"},
                   ".mkv": None, ".webm": {"opus", "vorbis"}}  # None: every codec


def is_video_name(path: str | os.PathLike) -> bool:
    """Whether the file name has a video suffix translate reads (.mp4, .webm, .mov, .mkv, .gif)."""
    return pathlib.Path(path).suffix.lower() in VIDEO_EXTENSIONS


@dataclasses.dataclass(frozen=True)
class VideoInfo:
    """What a clip holds: frame size, rate (frames per second), declared frame count (0 when the
    container does not say), duration in seconds and whether it has an audio track."""

    width: int
    height: int
    rate: fractions.Fraction
    frames: int
    duration_s: float
    audio: str | None  # the audio codec's name, or None


def is_animated_gif(path: str | os.PathLike) -> bool:
    """Whether a .gif holds more than one frame (translate makes a video of it, not an image)."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            return getattr(image, "n_frames", 1) > 1
    except (OSError, Image.DecompressionBombError):
        return False  # unreadable, or frames too large to open: the image path reports it


def _av():
    try:
        import av
    except ImportError as error:  # pragma: no cover - av is a dependency
        raise ValueError("video needs PyAV: pip install av") from error
    return av


def _open(path: pathlib.Path):
    av = _av()
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: not a video FFmpeg can read, or truncated ({_reason(error)})") from error
    if not container.streams.video:
        container.close()
        raise ValueError(f"{path}: no video stream")
    stream = container.streams.video[0]
    if stream.codec_context is None:
        container.close()
        raise ValueError(f"{path}: unsupported video codec: the FFmpeg bundled with PyAV has no decoder for it")
    problem = _frame_size_problem(stream.codec_context.width, stream.codec_context.height)
    if problem:
        container.close()
        raise ValueError(f"{path}: {problem}")
    return container


def _frame_size_problem(width: int, height: int) -> str | None:
    if width * height > MAX_FRAME_PIXELS:
        return (f"frames of {width} x {height} pixels, more than the {MAX_FRAME_PIXELS // 10**6} megapixel limit "
                "(the same as for images)")
    return None


def frames_per_batch(width: int, height: int, batch_size: int) -> int:
    """Frames of ``width`` x ``height`` px per model call: ``batch_size``, fewer when they would hold
    more than ``MAX_BATCH_PIXELS`` (never fewer than one)."""
    return max(1, min(batch_size, MAX_BATCH_PIXELS // max(width * height, 1)))


def _rate(stream) -> fractions.Fraction:
    """A video stream's frames per second: its average rate, else FFmpeg's guess, else 25."""
    return fractions.Fraction(stream.average_rate or stream.guessed_rate or 25)


def _reason(error: Exception) -> str:
    return getattr(error, "strerror", None) or str(error).splitlines()[0]


def probe(path: str | os.PathLike) -> VideoInfo:
    """The clip's ``VideoInfo``; ValueError naming the file when it is not a readable video."""
    path = pathlib.Path(path).expanduser()
    with _open(path) as container:
        stream = container.streams.video[0]
        duration = float(stream.duration * stream.time_base) if stream.duration else (
            container.duration / 1e6 if container.duration else 0.0)
        audio = container.streams.audio[0].codec_context.name if container.streams.audio else None
        return VideoInfo(stream.codec_context.width, stream.codec_context.height, _rate(stream),
                         stream.frames, duration, audio)


def _palettized(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """uint8 RGB (H, W, 3) -> (palette indices (H, W), palette (256, 4) ARGB), as PyAV's pal8 frames take."""
    from PIL import Image

    quantized = Image.fromarray(image).quantize(colors=256)
    colours = np.asarray(quantized.getpalette()[: 3 * 256], np.uint8).reshape(-1, 3)
    palette = np.zeros((256, 4), np.uint8)
    palette[:, 0] = 255
    palette[: len(colours), 1:] = colours
    return np.asarray(quantized, np.uint8), palette


def _demuxed(container, streams) -> Iterator:
    """The packets of ``streams`` in ``container``; ValueError naming the file when FFmpeg cannot read one."""
    av = _av()
    packets = container.demux(*streams)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            return
        except av.error.FFmpegError as error:
            raise ValueError(f"{container.name}: damaged data ({_reason(error)})") from error
        yield packet


def _decoded(packet, damaged: str) -> list:
    """The frames FFmpeg decodes from ``packet``; ValueError ``damaged`` (naming the file and the
    time) with FFmpeg's reason when it cannot."""
    try:
        return packet.decode()
    except _av().error.FFmpegError as error:
        raise ValueError(f"{damaged} ({_reason(error)})") from error


def _frame_batches(container, stream, batch_size: int, on_packet: Callable) -> Iterator[list]:
    """Decoded frames of ``stream`` in lists of ``batch_size``; other streams' packets go to ``on_packet``.

    Raises ValueError naming the file for a frame whose size is not the stream's (or over
    ``MAX_FRAME_PIXELS``): it is caught after one frame is decoded, never a batch of them."""
    batch = []
    streams = [stream, *container.streams.audio[:1]]
    declared = (stream.codec_context.width, stream.codec_context.height)
    for packet in _demuxed(container, streams):
        if packet.stream.index != stream.index:
            on_packet(packet)
            continue
        at = float(packet.pts or 0) * stream.time_base
        for frame in _decoded(packet, f"{container.name}: damaged video data at {at:.2f} s"):
            problem = _frame_size_problem(frame.width, frame.height)
            if problem is None and all(declared) and (frame.width, frame.height) != declared:
                problem = f"a frame of {frame.width} x {frame.height} pixels in a stream of {declared[0]} x {declared[1]}"
            if problem:
                raise ValueError(f"{container.name}: {problem}")
            batch.append(frame)
            if len(batch) == batch_size:
                yield batch
                batch = []
    if batch:
        yield batch


def translate_video(
    translate_batch: Callable[[np.ndarray], np.ndarray],
    source: str | os.PathLike,
    destination: str | os.PathLike,
    batch_size: int = 8,
    on_progress: Callable[[int, int], None] | None = None,
    crf: int = 18,
) -> dict:
    """Translates every frame of ``source`` into the video ``destination``.

    Args:
      translate_batch: uint8 (n, H, W, 3) frames -> uint8 (n, H, W, 1 or 3), e.g.
        ``Translator.translate_batch``; each frame must be translated alone (deterministic
        inference modes make the output a function of the frame).
      source: a video file (.mp4, .webm, .mov, .mkv, animated .gif, or anything FFmpeg reads).
      destination: the output file; its suffix picks the container (``VIDEO_FORMATS``).
      batch_size: frames per call of ``translate_batch``; memory holds one batch (fewer frames when
        they would hold more than ``MAX_BATCH_PIXELS``).
      on_progress: called after each batch with (frames done, frames expected or 0 if unknown).
      crf: quality of H.264 / VP9 (lower is better and larger; 18 is visually lossless).

    Returns:
      {"frames", "seconds", "rate" (frames per second of the output), "width", "height",
      "batch" (frames per model call), "audio": "copied" | "re-encoded" | "none" | "dropped (GIF has no audio)"}.

    Raises:
      ValueError naming the file: unreadable, truncated or damaged, no video stream, no frames,
      frames over ``MAX_FRAME_PIXELS`` (checked before decoding), an output suffix that is not a
      video, an output that would overwrite the input, or one FFmpeg could not write (naming
      ``destination`` and the cause, never the temporary file).
      Nothing is left at ``destination`` then (nor a temporary file).
    """
    av = _av()
    source, destination = pathlib.Path(source).expanduser(), pathlib.Path(destination).expanduser()
    suffix = destination.suffix.lower()
    if suffix not in VIDEO_FORMATS:
        raise ValueError(f"{destination}: the output needs a video suffix ({', '.join(VIDEO_EXTENSIONS)})")
    if destination.exists() and os.path.realpath(destination) == os.path.realpath(source):
        raise ValueError(f"{source}: its output would overwrite it; choose another output")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    destination.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    # A name of its own: two runs writing one output never share (or delete) each other's file.
    temporary = destination.with_name(f".{destination.stem}.{uuid.uuid4().hex[:12]}.partial{suffix}")
    with _open(source) as container:
        try:
            result = _transcode(av, container, source, temporary, suffix, translate_batch, batch_size,
                                on_progress, crf)
            os.replace(temporary, destination)
        except av.error.FFmpegError as error:  # reading errors are ValueErrors naming the input by now
            raise ValueError(f"{destination}: could not write the video ({_reason(error)})") from error
        finally:
            temporary.unlink(missing_ok=True)  # gone after the rename; after a failure, nothing is left
    result["seconds"] = round(time.perf_counter() - started, 3)
    return result


def _transcode(av, container, source, temporary, suffix, translate_batch, batch_size, on_progress, crf) -> dict:
    video_in = container.streams.video[0]
    video_in.thread_type = "AUTO"
    audio_in = container.streams.audio[0] if container.streams.audio else None
    width, height = video_in.codec_context.width, video_in.codec_context.height
    rate = _rate(video_in)
    expected = video_in.frames
    batch_size = frames_per_batch(width, height, batch_size)
    codec, pixel_format = VIDEO_FORMATS[suffix]
    if pixel_format == "yuv420p" and (width % 2 or height % 2):
        pixel_format = "yuv444p"  # 4:2:0 needs even sides; 4:4:4 keeps the exact size
    with av.open(str(temporary), "w") as output:
        video_out = output.add_stream(codec, rate=rate)
        video_out.width, video_out.height, video_out.pix_fmt = width, height, pixel_format
        if codec in ("libx264", "libvpx-vp9"):
            video_out.options = {"crf": str(crf), **({"b": "0"} if codec == "libvpx-vp9" else {})}
        time_in = video_in.time_base or fractions.Fraction(1, 1000)
        # Each frame keeps its own time: the encoder counts in the input's time base (left alone it
        # counts in 1/rate, where the frames of a variable-rate clip collide); GIF counts in 1/100 s.
        time_base = fractions.Fraction(1, 100) if codec == "gif" else time_in
        video_out.time_base = video_out.codec_context.time_base = time_base
        audio_out, audio = None, "none"
        if audio_in is not None:
            name = audio_in.codec_context.name
            copyable = _AUDIO_COPYABLE.get(suffix, set())
            if suffix == ".gif":
                audio = "dropped (GIF has no audio)"
            elif copyable is None or name in copyable:
                audio_out, audio = output.add_stream_from_template(audio_in), "copied"
            else:
                encoder = _AUDIO_ENCODERS[suffix]
                # PyAV resamples each frame to the encoder's rate (and format and layout) as it encodes.
                audio_out = output.add_stream(encoder, rate=_encoder_rate(av, encoder, audio_in.rate))
                audio = "re-encoded"

        ends = {"audio": 0.0, "video": 0.0}  # seconds each stream reached, for the truncation check

        def on_audio(packet) -> None:
            if packet.pts is not None and packet.time_base:
                ends["audio"] = max(ends["audio"], float((packet.pts + (packet.duration or 0)) * packet.time_base))
            if audio_out is None or packet.dts is None:
                return
            if audio == "copied":
                packet.stream = audio_out
                output.mux(packet)
            else:
                for frame in _decoded(packet, f"{source}: damaged audio data at {ends['audio']:.2f} s"):
                    frame.pts = None
                    output.mux(audio_out.encode(frame))

        done, first_pts, previous_pts = 0, None, None
        for batch in _frame_batches(container, video_in, batch_size, on_audio):
            pixels = np.stack([frame.to_ndarray(format="rgb24") for frame in batch])
            translated = np.asarray(translate_batch(pixels))
            if translated.shape[:3] != pixels.shape[:3]:
                raise ValueError(f"translate_batch gave {translated.shape} for frames {pixels.shape}")
            if translated.shape[-1] == 1:
                translated = np.repeat(translated, 3, axis=-1)
            for frame, image in zip(batch, translated):
                if codec == "gif":  # 256 colours per frame, chosen for the frame (median cut)
                    out_frame = av.VideoFrame.from_ndarray(_palettized(image), format="pal8")
                else:
                    out_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
                first_pts = frame.pts if first_pts is None else first_pts
                out_frame.pts = previous_pts = _output_pts(frame.pts, first_pts, previous_pts, time_in, time_base, rate)
                out_frame.time_base = time_base
                output.mux(video_out.encode(out_frame))
                if frame.pts is not None:
                    ends["video"] = max(ends["video"], float(frame.pts * time_in + 1 / rate))
            done += len(batch)
            if on_progress is not None:
                on_progress(done, expected)
        if done == 0:
            raise ValueError(f"{source}: the video stream has no frames")
        if expected and done < expected - 1:
            raise ValueError(f"{source}: truncated or damaged: {done} of the {expected} frames its header declares "
                             "could be decoded")
        if container.format.name == "gif" and not _ends_with_gif_trailer(source):
            raise ValueError(f"{source}: truncated or damaged: the GIF ends without its trailer ({done} frames decoded)")
        declared = _declared_duration(container, video_in)
        if declared and max(ends.values()) < declared - TRUNCATION_TOLERANCE_S:
            raise ValueError(f"{source}: truncated or damaged: its frames end at {max(ends.values()):.2f} s of the "
                             f"{declared:.2f} s its container declares ({done} frames decoded)")
        output.mux(video_out.encode(None))
        if audio == "re-encoded":
            output.mux(audio_out.encode(None))
    return {"frames": done, "rate": float(rate), "width": width, "height": height, "batch": batch_size,
            "audio": audio}


def _encoder_rate(av, encoder: str, rate: int) -> int:
    """The sample rate to open the audio ``encoder`` at for audio of ``rate`` Hz: ``rate`` when the
    encoder takes it, else the lowest rate it takes above (the highest below when none is above):
    Opus takes 48 kHz for 44.1 kHz audio."""
    rates = av.Codec(encoder, "w").audio_rates
    if not rates or rate in rates:
        return rate
    return min((supported for supported in rates if supported > rate), default=max(rates))


def _output_pts(pts, first, previous, time_in, time_out, rate) -> int:
    """A frame's timestamp in the output's ``time_out``: its own time since ``first`` (the first
    frame's pts, in ``time_in``), and at least one unit after ``previous`` (the last frame's, None
    for the first), as encoders and muxers need; a frame without a pts comes 1/``rate`` after it."""
    if pts is None or first is None:
        at = 0 if previous is None else previous + max(1, round(1 / (rate * time_out)))
    else:
        at = round((pts - first) * time_in / time_out)
    return at if previous is None or at > previous else previous + 1


def _ends_with_gif_trailer(path: pathlib.Path) -> bool:
    """Whether the GIF at ``path`` ends with its trailer byte (0x3B), which a cut file lacks: GIF
    declares neither a frame count nor a duration."""
    with open(path, "rb") as file:
        file.seek(-1, os.SEEK_END)
        return file.read(1) == b";"


def _declared_duration(container, stream) -> float:
    """Seconds the video stream (else the container) says it lasts, from the start; 0.0 when unknown."""
    if stream.duration and stream.time_base:
        return float((stream.duration + (stream.start_time or 0)) * stream.time_base)
    return container.duration / 1e6 if container.duration else 0.0


def temporal_change(frames) -> float:
    """Mean absolute difference between consecutive frames (uint8 scale, 0 to 255), over an iterable
    of (H, W, C) frames; 0.0 for fewer than two."""
    total, count, previous = 0.0, 0, None
    for frame in frames:
        frame = np.asarray(frame, np.float32)
        if previous is not None:
            total, count = total + float(np.abs(frame - previous).mean()), count + 1
        previous = frame
    return total / count if count else 0.0


def flicker(inputs, outputs) -> float:
    """How much more the output changes from frame to frame than the input: temporal_change of
    the outputs over that of the inputs (1: as much as the scene moves; inf for a still input
    whose output changes)."""
    change_in, change_out = temporal_change(inputs), temporal_change(outputs)
    if change_in == 0:
        return 0.0 if change_out == 0 else float("inf")
    return change_out / change_in
