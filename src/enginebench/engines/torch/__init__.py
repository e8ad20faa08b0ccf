"""PyTorch (transformers, torchao): model.py runs the checkpoint, ops.py the single ops."""
