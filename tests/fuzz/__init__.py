"""Fuzzing support: hypothesis strategies, the properties every answer must have (`oracle`), and
the coverage-guided harness (`targets`, `run`) with its seed corpus (`corpus/`)."""
