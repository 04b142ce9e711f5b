"""Stage 1, data: where paired images are on disk, their checks, and the tf.data pipeline that feeds training."""
