"""Intake transcripts kept as data (`*.toml`) and the harness that plays them against the real bot."""
