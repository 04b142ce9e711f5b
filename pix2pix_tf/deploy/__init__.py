"""Stage 5, deploy: SavedModel and TFLite files, and translating images with any trained model."""
