"""Live inference: ONNX encoders (emotion, tags, latent) on their own worker thread, fed by
the analysis thread, never in its way."""
