"""WiSE-FT weight merging: specs, streaming safetensors IO, the float32 merge engine, and its on-disk cache."""
