"""clapmos test suite (a package, so that laion-clap's own top-level `tests` package cannot shadow it)."""
