"""Activation functions by their Hugging Face config names.

Hugging Face configs name activations with strings (`hidden_act="gelu"`,
`activation_function="gelu_new"`). This module is the one registry that turns
those strings into callables on tensors, so every layer that takes an
`activation` argument accepts the same names.

References:
    `transformers.activations.ACT2FN` (the names and the exact formulas the
    parity tests compare against).
"""

import math

import keras
from keras import ops

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


def gelu(x):
    """Exact GELU, `x * Phi(x)` with the Gaussian CDF (erf form)."""
    return ops.gelu(x, approximate=False)


def gelu_new(x):
    """GELU, tanh approximation (GPT-2's `gelu_new`, PyTorch's `gelu(approximate="tanh")`)."""
    x3 = x * x * x
    return 0.5 * x * (1.0 + ops.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x3)))


def gelu_fast(x):
    """GELU, tanh approximation written as in `transformers.FastGELUActivation`."""
    return 0.5 * x * (1.0 + ops.tanh(x * 0.7978845608 * (1.0 + 0.044715 * x * x)))


def quick_gelu(x):
    """`x * sigmoid(1.702 x)` (CLIP's approximation)."""
    return x * ops.sigmoid(1.702 * x)


def relu(x):
    return ops.relu(x)


def relu6(x):
    return ops.relu6(x)


def silu(x):
    """SiLU / swish, `x * sigmoid(x)`."""
    return ops.silu(x)


def mish(x):
    return x * ops.tanh(ops.softplus(x))


def tanh(x):
    return ops.tanh(x)


def sigmoid(x):
    return ops.sigmoid(x)


def linear(x):
    return x


ACTIVATIONS = {
    "gelu": gelu,
    "gelu_python": gelu,
    "gelu_new": gelu_new,
    "gelu_pytorch_tanh": gelu_new,
    "gelu_fast": gelu_fast,
    "quick_gelu": quick_gelu,
    "relu": relu,
    "relu6": relu6,
    "silu": silu,
    "swish": silu,
    "mish": mish,
    "tanh": tanh,
    "sigmoid": sigmoid,
    "linear": linear,
}


def get_activation(name):
    """Returns the activation function registered under a Hugging Face name.

    Args:
        name: str, a key of `ACTIVATIONS` (e.g. `"gelu"`, `"gelu_new"`,
            `"relu"`, `"silu"`), or a callable, which is returned unchanged.

    Returns:
        A callable mapping a tensor to a tensor of the same shape and dtype.

    Raises:
        ValueError: if `name` is not a registered activation.
    """
    if callable(name):
        return name
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(
            f"Unknown activation {name!r}. Expected one of {sorted(ACTIVATIONS)}. "
            f"Received: activation={name!r}"
        ) from None


@keras.saving.register_keras_serializable(package="tfmodels")
class Activation(keras.layers.Layer):
    """A layer applying an activation chosen by its Hugging Face name.

    Args:
        activation: str, a name accepted by `get_activation`.
    """

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activation
        self._fn = get_activation(activation)

    def call(self, inputs):
        return self._fn(inputs)

    def get_config(self):
        return {**super().get_config(), "activation": self.activation}
