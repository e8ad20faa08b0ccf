"""MLX (the array framework of Apple silicon; `mlx[cpu]` on Linux): model and op faces."""
