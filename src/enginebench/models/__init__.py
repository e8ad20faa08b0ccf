"""Model specs, locally generated presets and local checkpoint directories."""
