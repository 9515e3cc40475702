"""AltUp for stock flaxformer T5 / T5X (see README)."""
