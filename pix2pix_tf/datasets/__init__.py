"""Datasets for pix2pix_tf: the built-in synthetic façades (`synthetic`), generated locally with no download."""
