"""Stage 2, models: the generators, the PatchGAN discriminator, their layers, losses and inference modes."""
