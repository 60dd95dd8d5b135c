"""Small helpers shared by the layers."""

import keras


def clone_initializer(initializer):
    """Returns a fresh copy of a Keras initializer (so sublayers never share state)."""
    initializer = keras.initializers.get(initializer)
    return initializer.__class__.from_config(initializer.get_config())


def hf_initializer(initializer_range=0.02):
    """The truncated-free normal init Hugging Face models use: `N(0, initializer_range)`."""
    return keras.initializers.RandomNormal(stddev=initializer_range)
