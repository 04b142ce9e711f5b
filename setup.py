"""Installs pix2pix_tf and its `pix2pix-tf` command."""

import pathlib

from setuptools import find_packages, setup

README = pathlib.Path(__file__).with_name("README.md")

setup(
    name="pix2pix_tf",
    version="0.1.0",
    description="Paired image-to-image translation with conditional GANs (pix2pix) in Keras/TensorFlow",
    long_description=README.read_text(encoding="utf-8") if README.exists() else "",
    long_description_content_type="text/markdown",
    license="Apache-2.0",  # the code; shipped model weights also carry their training data's terms (their cards)
    license_files=["LICENSE"],
    python_requires=">=3.10",
    packages=find_packages(include=["pix2pix_tf", "pix2pix_tf.*"]),
    package_data={"pix2pix_tf.deploy": ["static/*.html", "static/*.js", "static/*.css", "static/*.ico",
                                         "static/litert/*", "pretrained/*/*"]},
    install_requires=[
        "tensorflow>=2.21,<2.22",
        "tensorboard>=2.20",  # tf.summary needs it; TensorFlow 2.21 no longer installs it
        "tensorflow-datasets>=4.9",
        "importlib_resources",  # TFDS needs it to build datasets defined outside TFDS (tensorflow/datasets#11212)
        "matplotlib>=3.8",
        "absl-py>=2.1",
        "ai-edge-litert>=2.0",
        "av>=14",  # PyAV: video decoding and encoding, FFmpeg bundled in its wheels (translate on video files)
        "pillow>=10",  # 256-colour palettes of animated GIF output (matplotlib installs it too)
    ],
    # selenium drives Debian's chromium and chromedriver in the page's tests; it downloads no browser.
    extras_require={"test": ["pytest>=8", "pytest-xdist>=3.5", "selenium>=4.20"]},  # xdist: the suite on both cores
    entry_points={"console_scripts": ["pix2pix-tf=pix2pix_tf.cli:main"]},
)
