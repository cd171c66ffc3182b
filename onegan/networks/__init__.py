"""OneGAN sub-networks (§3): embeddings, generators, encoders, discriminators, normalisation."""
