"""NumPy: an op face only, the baseline every other engine's op is compared beside."""
