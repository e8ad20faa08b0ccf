"""One folder per engine (its model face, op face and converters), the faces they
implement (base.py) and the one registry (registry.py)."""
