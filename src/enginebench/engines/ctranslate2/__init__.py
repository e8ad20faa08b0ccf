"""CTranslate2: model.py (its Python API runs whole models only: no op face)."""
