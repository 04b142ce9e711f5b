"""Stage 3, training: the one train step, the loop around it, checkpoints, validation and run health."""
