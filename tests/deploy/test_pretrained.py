"""The models shipped in the package: loadable by name, with their card and example inputs."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import pix2pix_tf
from pix2pix_tf import palettes
from pix2pix_tf.deploy import pretrained
from pix2pix_tf.deploy.translator import Translator

FACADE_CLASSES = ["background", "facade", "window", "door", "cornice", "sill", "balcony", "blind", "deco",
                  "molding", "pillar", "shop"]


def test_the_facades_model_ships_as_a_256_px_student_with_the_12_cmp_classes():
    assert pretrained.DEFAULT == "facades_label2photo" and "facades_label2photo" in pix2pix_tf.pretrained_models()
    translator = pix2pix_tf.load_pretrained("facades_label2photo")
    config = translator.config
    assert (config.model.generator, config.data.image_size, config.data.direction) == ("unet_mobile", 256, "BtoA")
    assert list(palettes.classes(config.data.palette)) == FACADE_CLASSES
    tflite = pretrained.folder("facades_label2photo") / "model_float16.tflite"
    assert tflite.stat().st_size <= 8 * 10**6  # the file a browser downloads


def test_its_card_says_what_it_does_its_data_terms_and_scores():
    card = pretrained.card("facades_label2photo")
    assert card["description"] == "label map → façade photo" and card["input"] == "label_map"  # the page's swatches
    assert "CMP Facade Database" in card["data"]["name"] and "Tyleček" in card["data"]["citation"]
    assert card["data"]["terms"]
    for model in ("student", "teacher"):
        assert 0 < card["scores"][model]["fcn_class_iou"] < 1
    text = (pretrained.folder("facades_label2photo") / pretrained.CARD_TEXT).read_text()
    assert "pix2pix-tf distill" in text and "pix2pix-tf export" in text  # the commands that remake it


def test_its_examples_are_clean_label_maps_it_translates_into_photos():
    translator = pix2pix_tf.load_pretrained("facades_label2photo")
    colours = np.array(list(palettes.classes("facades").values()), np.uint8)
    examples = pretrained.examples("facades_label2photo")
    assert examples
    for path in examples:
        labels = np.asarray(Image.open(path).convert("RGB"))
        assert labels.shape == (256, 256, 3)
        assert np.all((labels.reshape(-1, 1, 3) == colours).all(axis=-1).any(axis=-1))  # palette colours only
    photo = translator.translate(labels)
    assert photo.shape == (256, 256, 3) and photo.std() > 20  # a picture, not a flat colour


def test_every_command_takes_the_name_and_an_unknown_one_lists_the_shipped():
    assert Translator.load("facades_label2photo").source.parent == pretrained.folder("facades_label2photo")
    with pytest.raises(ValueError, match="'facades_labels2photo' is neither a path that exists nor a shipped "
                                         "model; shipped models: .*facades_label2photo"):
        Translator.load("facades_labels2photo")


def test_the_package_data_carries_every_shipped_file():
    """setup.py's package_data must take each shipped model's files into a wheel."""
    import re

    from conftest import REPO

    patterns = re.findall(r'"(pretrained/[^"]+)"', (REPO / "setup.py").read_text())
    assert pretrained.names() == ["edges2shoes_bags", "facades_label2photo"]
    for name in pretrained.names():
        folder = pretrained.folder(name)
        for path in folder.iterdir():
            relative = path.relative_to(folder.parent.parent).as_posix()
            assert any(pathlib_match(relative, pattern) for pattern in patterns), relative


def pathlib_match(relative: str, pattern: str) -> bool:
    import fnmatch

    return fnmatch.fnmatch(relative, pattern)


def test_the_sketch_model_ships_as_a_256_px_student_that_reads_pen_strokes():
    translator = pix2pix_tf.load_pretrained("edges2shoes_bags")
    config = translator.config
    assert (config.model.generator, config.data.image_size, config.data.direction) == ("unet_mobile", 256, "BtoA")
    assert config.data.freehand_lines and config.data.palette == "none"
    assert (pretrained.folder("edges2shoes_bags") / "model_float16.tflite").stat().st_size <= 8 * 10**6


def test_the_sketch_models_card_carries_its_datas_terms_and_citations():
    card = pretrained.card("edges2shoes_bags")
    assert card["input"] == "sketch" and card["title"]  # the page's pen, and its name in the page's list
    assert "non-commercial" in card["data"]["terms"]
    for author in ("Yu and K. Grauman", "Zhu", "Isola"):
        assert author in card["data"]["citation"]
    assert 0 < card["scores"]["student"]["l1"] < card["scores"]["student"]["ssim"] < 1
    text = (pretrained.folder("edges2shoes_bags") / pretrained.CARD_TEXT).read_text()
    assert "non-commercial" in text and "--freehand_lines" in text and "pix2pix-tf distill" in text


def test_the_sketch_models_examples_are_pen_drawings_it_fills_in_as_objects():
    translator = pix2pix_tf.load_pretrained("edges2shoes_bags")
    examples = pretrained.examples("edges2shoes_bags")
    assert len(examples) == 3
    for path in examples:
        drawing = np.asarray(Image.open(path).convert("RGB"))
        assert drawing.shape == (256, 256, 3)
        ink = drawing.min(axis=-1) < 128
        assert np.isin(drawing, (0, 255)).mean() > 0.99 and 0.01 < ink.mean() < 0.2  # black lines on white
        photo = translator.translate(drawing).astype(np.float32)
        assert photo.shape == (256, 256, 3)
        assert photo.mean() < drawing.mean() - 20 and photo.std(axis=(0, 1)).max() > 20  # filled in, not a copy
