"""Architectures, one folder per family, assembled from `tfmodels.layers`."""
