"""The embed stage: corpora → audio → embedders → the Zarr feature store."""
