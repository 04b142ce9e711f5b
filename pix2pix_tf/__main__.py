"""``python -m pix2pix_tf COMMAND`` does what ``pix2pix-tf COMMAND`` does."""

from pix2pix_tf.cli import main

if __name__ == "__main__":
    main()
