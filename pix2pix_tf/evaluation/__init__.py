"""Stage 4, evaluation: image metrics, scoring a generator over a split, reports and plots."""
