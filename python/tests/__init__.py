"""Tests of the PyTorch bridge (unittest; CPU, with GPU-only tests skipped without CUDA)."""
