"""Training, ONNX export, parity and evaluation of the sonolux encoders (PyTorch side)."""
