"""Emission: generated PyTorch source (`model_code`) and atomically written artifacts (`artifacts`)."""
