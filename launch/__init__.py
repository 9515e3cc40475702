"""Launchers for AltUp experiments on T5X (local and Cloud TPU)."""
