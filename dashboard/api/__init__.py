"""The read side for machines: Plausible's Stats API, with Bearer keys."""
