"""Engines that run an embedder over many clips into a store: the serial runner, the Dask
engine, the frame-token layout, and the score cache with its input lists."""
