"""Integer-only quantized layers (I-BERT): QuantAct, QuantLinear, QuantEmbedding, IntGELU, IntSoftmax, IntLayerNorm.

Every quantized tensor travels with its scaling factor `s` (shape `(1,)`, or
`(channels,)` for per-channel factors): the real value is `q * s` with `q`
integer-valued. Each layer's `call` returns `(values, scaling_factor)`; with
`quant_mode=False` it computes the float function and returns
`(values, None)`.

The arithmetic follows the reference operation by operation, in its dtypes:
float32 everywhere except the fixed-point rescaling of `QuantAct`
(`fixed_point_mul`: float64, with the mantissa rounded half-up to 31 bits as
the reference's `batch_frexp`), and PyTorch's `number / tensor` is computed as
it does, `(1 / tensor) * number` (`_rdiv`).

These layers run inference with calibrated ranges (`QuantAct.x_min/x_max`,
`IntLayerNorm.shift`, loaded from a checkpoint); the reference's calibration
in training mode (range momentum, shift overflow fallback) and its
straight-through gradients are not implemented: calling them with
`training=True` in quant mode raises `NotImplementedError`.

Known difference: TensorFlow flushes float32 denormals to zero on CPU, PyTorch
does not. Scaling factors only become denormal with uncalibrated ranges (the
`x_min`/`x_max` initial values `-1e-5`/`1e-5`, e.g. a freshly initialised
model), where `IntSoftmax`'s exponent factor underflows and these layers
return NaN while the reference returns tiny finite values; calibrated
checkpoints stay far from denormals.

References:
    Kim et al., "I-BERT: Integer-only BERT Quantization", ICML 2021.
    Parity reference: `transformers.models.ibert.quant_modules` (PyTorch).
"""

import math

import keras
import tensorflow as tf

from tfmodels.layers.utils import clone_initializer

_DEQUANT_CHOICES = ("none", "gelu", "softmax", "layernorm", "nonlinear")


def _f32(value):
    return tf.constant(value, tf.float32)


def _rdiv(number, tensor):
    """PyTorch's `number / tensor` (`Tensor.__rtruediv__`: `tensor.reciprocal() * number`), in float32."""
    return (_f32(1.0) / tensor) * _f32(number)


def _floor_divide(a, b):
    """`torch.floor_divide` on floats (its `div_floor_floating`): `(a - fmod(a, b)) / b`, corrected to the floor."""
    mod = tf.truncatemod(a, b)
    div = (a - mod) / b
    div = tf.where(tf.logical_and(mod != 0, (b < 0) != (mod < 0)), div - 1.0, div)
    floordiv = tf.floor(div)
    return tf.where(div - floordiv > 0.5, floordiv + 1.0, floordiv)


def symmetric_scale(num_bits, saturation_min, saturation_max):
    """Scaling factor of symmetric `num_bits` quantization of `[min, max]` (elementwise for per-channel ranges)."""
    n = 2 ** (num_bits - 1) - 1
    scale = tf.maximum(tf.abs(saturation_min), tf.abs(saturation_max))
    return tf.maximum(scale, _f32(1e-8)) / _f32(n)


def symmetric_quantize(x, num_bits, scale):
    """`clamp(round((1 / scale) * x), -n, n - 1)`, `n = 2 ** (num_bits - 1) - 1`; `scale` broadcasts on `x`'s last axis."""
    n = 2 ** (num_bits - 1) - 1
    return tf.clip_by_value(tf.round((_f32(1.0) / scale) * x), _f32(-n), _f32(n - 1))


def _frexp_31(value):
    """`batch_frexp`: float64 `value = m * 2 ** -e`, `m` a 31-bit integer (`np.frexp`'s mantissa times `2 ** 31`,
    rounded half away from zero as `decimal.ROUND_HALF_UP`); negative values keep their sign in `m`."""
    magnitude = tf.abs(value)
    exponent = tf.floor(tf.math.log(magnitude) / math.log(2.0)) + 1.0
    mantissa = magnitude * tf.pow(tf.constant(2.0, tf.float64), -exponent)
    for _ in range(2):  # log rounding: bring the mantissa into [0.5, 1)
        high = mantissa >= 1.0
        mantissa, exponent = tf.where(high, mantissa / 2.0, mantissa), tf.where(high, exponent + 1.0, exponent)
        low = mantissa < 0.5
        mantissa, exponent = tf.where(low, mantissa * 2.0, mantissa), tf.where(low, exponent - 1.0, exponent)
    return tf.sign(value) * tf.floor(mantissa * 2.0 ** 31 + 0.5), 31.0 - exponent


def _rescale(values, scaling_factor, z_scaling_factor):
    z_int = tf.round(values / scaling_factor)  # float32
    m, e = _frexp_31(tf.cast(scaling_factor, tf.float64) / tf.cast(z_scaling_factor, tf.float64))
    return tf.round(tf.cast(z_int, tf.float64) * m / tf.pow(tf.constant(2.0, tf.float64), e))


def fixed_point_mul(pre_act, pre_act_scaling_factor, num_bits, z_scaling_factor, identity=None,
                    identity_scaling_factor=None):
    """Requantizes `pre_act` (plus `identity`) from their scaling factors to `z_scaling_factor` (`FixedPointMul`).

    Returns:
        float32 integer-valued tensor, clamped to `[-2 ** (num_bits - 1), 2 ** (num_bits - 1) - 1]`.
    """
    n = 2 ** (num_bits - 1) - 1
    output = _rescale(pre_act, pre_act_scaling_factor, z_scaling_factor)
    if identity is not None:
        output = output + _rescale(identity, identity_scaling_factor, z_scaling_factor)
    return tf.clip_by_value(tf.cast(output, tf.float32), _f32(-n - 1), _f32(n))


def _check_inference(layer, training):
    if training and layer.quant_mode:
        raise NotImplementedError(
            f"{type(layer).__name__} in quant mode runs inference with calibrated ranges only; quantization-aware "
            "training (range calibration, straight-through gradients) is not implemented. Train with "
            "quant_mode=False.")


class _QuantLayer(keras.layers.Layer):
    def __init__(self, quant_mode=False, **kwargs):
        super().__init__(**kwargs)
        self.quant_mode = quant_mode

    def get_config(self):
        return {**super().get_config(), "quant_mode": self.quant_mode}


def _dequantized(quant_mode, force_dequant, kind):
    if force_dequant not in _DEQUANT_CHOICES:
        raise ValueError(f"force_dequant must be one of {_DEQUANT_CHOICES}. Received: force_dequant={force_dequant!r}")
    return quant_mode and force_dequant not in ("nonlinear", kind)


@keras.saving.register_keras_serializable(package="tfmodels")
class QuantAct(_QuantLayer):
    """Quantizes an activation (plus an optional residual `identity`) to `activation_bit` bits.

    Args:
        activation_bit: int, bits of the output integers.
        quant_mode: bool, quantize (else: return `x + identity`, `None`).
        **kwargs: base layer arguments.

    Variables (non-trainable, from calibration): `x_min`, `x_max` `(1,)`, the activation range.

    Call args:
        x: float tensor `(..., channels)`.
        pre_act_scaling_factor: scaling factor of `x`, or None (then `x` is
            quantized directly).
        identity, identity_scaling_factor: optional residual added before
            requantization, with its scaling factor.

    Returns:
        `(q * s, s)` with `s = symmetric_scale(activation_bit, x_min, x_max)` `(1,)`.
    """

    def __init__(self, activation_bit, quant_mode=False, **kwargs):
        super().__init__(quant_mode=quant_mode, **kwargs)
        self.activation_bit = activation_bit

    def build(self, input_shape=None):
        self.x_min = self.add_weight(shape=(1,), name="x_min", trainable=False,
                                     initializer=keras.initializers.Constant(-1e-5))
        self.x_max = self.add_weight(shape=(1,), name="x_max", trainable=False,
                                     initializer=keras.initializers.Constant(1e-5))
        self.built = True

    def call(self, x, pre_act_scaling_factor=None, identity=None, identity_scaling_factor=None, training=None):
        _check_inference(self, training)
        if not self.quant_mode:
            return (x if identity is None else identity + x), None
        scale = symmetric_scale(self.activation_bit, self.x_min, self.x_max)
        if pre_act_scaling_factor is None:
            q = symmetric_quantize(x, self.activation_bit, scale)
        else:
            q = fixed_point_mul(x, pre_act_scaling_factor, self.activation_bit, scale, identity,
                                identity_scaling_factor)
        return q * scale, scale

    def get_config(self):
        return {**super().get_config(), "activation_bit": self.activation_bit}


@keras.saving.register_keras_serializable(package="tfmodels")
class QuantLinear(_QuantLayer):
    """Dense layer with per-output-channel 8-bit weights and 32-bit bias (`QuantLinear(per_channel=True)`).

    Args:
        units: int, output features.
        weight_bit, bias_bit: ints, bits of the integer weights and bias.
        quant_mode: bool, integer arithmetic (else a plain dense layer, `None` factor).
        kernel_initializer: initializer of the `(in, units)` kernel.
        **kwargs: base layer arguments.

    Call args:
        x: float tensor `(..., in)`; prev_act_scaling_factor: its `(1,)` factor (quant mode).

    Returns:
        `(x_int @ W_int + b_int) * s`, `s = fc_scaling_factor * prev_act_scaling_factor` `(units,)`.
    """

    def __init__(self, units, weight_bit=8, bias_bit=32, quant_mode=False, kernel_initializer="glorot_uniform",
                 **kwargs):
        super().__init__(quant_mode=quant_mode, **kwargs)
        self.units = units
        self.weight_bit = weight_bit
        self.bias_bit = bias_bit
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel",
                                      initializer=clone_initializer(self.kernel_initializer))
        self.bias = self.add_weight(shape=(self.units,), name="bias", initializer="zeros")
        self.built = True

    def call(self, x, prev_act_scaling_factor=None, training=None):
        _check_inference(self, training)
        if not self.quant_mode:
            return tf.matmul(x, self.kernel) + self.bias, None
        kernel = tf.convert_to_tensor(self.kernel)
        fc_scale = symmetric_scale(self.weight_bit, tf.reduce_min(kernel, axis=0), tf.reduce_max(kernel, axis=0))
        weight_int = symmetric_quantize(kernel, self.weight_bit, fc_scale)  # per output channel (last axis)
        bias_scale = fc_scale * prev_act_scaling_factor  # (units,)
        bias_int = symmetric_quantize(tf.convert_to_tensor(self.bias), self.bias_bit, bias_scale)
        x_int = x / prev_act_scaling_factor
        return (tf.matmul(x_int, weight_int) + bias_int) * bias_scale, bias_scale

    def get_config(self):
        return {**super().get_config(), "units": self.units, "weight_bit": self.weight_bit,
                "bias_bit": self.bias_bit,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer)}


@keras.saving.register_keras_serializable(package="tfmodels")
class QuantEmbedding(_QuantLayer):
    """Embedding lookup from a symmetric `weight_bit` quantized table (one `(1,)` scaling factor).

    Args:
        input_dim, output_dim: ints, table size.
        weight_bit: int, bits of the integer table.
        quant_mode: bool, quantize (else a plain lookup, `None` factor).
        embeddings_initializer: initializer of the table.

    Returns:
        `(table_int[ids] * s, s)`.
    """

    def __init__(self, input_dim, output_dim, weight_bit=8, quant_mode=False, embeddings_initializer="uniform",
                 **kwargs):
        super().__init__(quant_mode=quant_mode, **kwargs)
        self.input_dim = input_dim
        self.output_dim = output_dim
        self.weight_bit = weight_bit
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)

    def build(self, input_shape=None):
        self.embeddings = self.add_weight(shape=(self.input_dim, self.output_dim), name="embeddings",
                                          initializer=clone_initializer(self.embeddings_initializer))
        self.built = True

    def call(self, ids, training=None):
        _check_inference(self, training)
        table = tf.convert_to_tensor(self.embeddings)
        ids = tf.cast(ids, "int32")
        if not self.quant_mode:
            return tf.gather(table, ids), None
        scale = symmetric_scale(self.weight_bit, tf.reduce_min(table)[None], tf.reduce_max(table)[None])
        return tf.gather(symmetric_quantize(table, self.weight_bit, scale), ids) * scale, scale

    def get_config(self):
        return {**super().get_config(), "input_dim": self.input_dim, "output_dim": self.output_dim,
                "weight_bit": self.weight_bit,
                "embeddings_initializer": keras.initializers.serialize(self.embeddings_initializer)}


@keras.saving.register_keras_serializable(package="tfmodels")
class IntGELU(_QuantLayer):
    """GELU through a second-order polynomial of erf on integers (`i-GELU`); exact gelu when dequantized.

    Args:
        quant_mode: bool; force_dequant: `"gelu"` / `"nonlinear"` keep it in float.

    Returns:
        `(x * (sigmoid_int + shift) * s, s)`.
    """

    k = 1.4142
    const = 14
    coeff = (-0.2888, -1.769, 1 / -0.2888)  # a (x + b) ** 2 + c, c divided by a

    def __init__(self, quant_mode=False, force_dequant="none", **kwargs):
        super().__init__(quant_mode=_dequantized(quant_mode, force_dequant, "gelu"), **kwargs)
        self.force_dequant = force_dequant

    def _int_erf(self, x_int, scale):
        b_int = tf.floor(_rdiv(self.coeff[1], scale))
        c_int = tf.floor(_rdiv(self.coeff[2], scale * scale))
        abs_int = tf.minimum(tf.abs(x_int), -b_int)
        y_int = tf.sign(x_int) * (tf.square(abs_int + b_int) + c_int)
        scale = scale * scale * _f32(self.coeff[0])
        return tf.floor(y_int / _f32(2.0 ** self.const)), scale * _f32(2.0 ** self.const)

    def call(self, x, scaling_factor=None, training=None):
        _check_inference(self, training)
        if not self.quant_mode:
            return keras.activations.gelu(x, approximate=False), None
        x_int = x / scaling_factor
        sigmoid_int, sigmoid_scale = self._int_erf(x_int, scaling_factor / _f32(self.k))
        shift_int = _floor_divide(_f32(1.0), sigmoid_scale)
        x_int = x_int * (sigmoid_int + shift_int)
        scaling_factor = scaling_factor * sigmoid_scale / _f32(2.0)
        return x_int * scaling_factor, scaling_factor

    def get_config(self):
        return {**super().get_config(), "force_dequant": "none"}  # `quant_mode` already says what is dequantized


@keras.saving.register_keras_serializable(package="tfmodels")
class IntSoftmax(_QuantLayer):
    """Softmax through an integer exponential (`i-exp`: `2 ** -q` times a polynomial), `output_bit` outputs.

    Args:
        output_bit: int, bits of the output probabilities (scaling factor `2 ** -output_bit`).
        quant_mode: bool; force_dequant: `"softmax"` / `"nonlinear"` keep it in float.

    Sublayers: `act`, a 16-bit `QuantAct` requantizing the exponentials.

    Call args:
        x: float scores `(..., key_len)` (masked entries very negative); scaling_factor: their factor.
    """

    x0 = -0.6931  # -ln 2
    const = 30
    coef = (0.35815147, 0.96963238 / 0.35815147, 1.0 / 0.35815147)  # a x ** 2 + b x + c, b and c divided by a
    max_bit = 32

    def __init__(self, output_bit, quant_mode=False, force_dequant="none", **kwargs):
        super().__init__(quant_mode=_dequantized(quant_mode, force_dequant, "softmax"), **kwargs)
        self.output_bit = output_bit
        self.act = QuantAct(16, quant_mode=self.quant_mode, dtype=self.dtype_policy, name="act")

    def build(self, input_shape=None):
        self.act.build()
        self.built = True

    def _int_exp(self, x_int, scale):
        x0_int = tf.floor(_rdiv(self.x0, scale))
        x_int = tf.maximum(x_int, _f32(self.const) * x0_int)
        q = tf.floor(x_int / x0_int)
        r = x_int - x0_int * q
        b_int = tf.floor(_rdiv(self.coef[1], scale))
        c_int = tf.floor(_rdiv(self.coef[2], scale * scale))
        z = (r + b_int) * r + c_int
        exp_scale = _f32(self.coef[0]) * scale * scale
        exp_int = tf.maximum(tf.floor(z * tf.pow(_f32(2.0), _f32(self.const) - q)), 0.0)
        return exp_int, exp_scale / _f32(2.0 ** self.const)

    def call(self, x, scaling_factor=None, training=None):
        _check_inference(self, training)
        if not self.quant_mode:
            return tf.nn.softmax(x, axis=-1), None
        x_int = x / scaling_factor
        x_int = x_int - tf.reduce_max(x_int, axis=-1, keepdims=True)
        exp_int, exp_scale = self._int_exp(x_int, scaling_factor)
        exp, exp_scale = self.act(exp_int, exp_scale)
        exp_int = exp / exp_scale
        factor = tf.floor(_rdiv(2.0 ** self.max_bit, tf.reduce_sum(exp_int, axis=-1, keepdims=True)))
        exp_int = tf.floor(exp_int * factor / _f32(2.0 ** (self.max_bit - self.output_bit)))
        scale = 1 / 2 ** self.output_bit
        return exp_int * _f32(scale), tf.constant([scale], tf.float32)

    def get_config(self):
        return {**super().get_config(), "output_bit": self.output_bit, "force_dequant": "none"}


@keras.saving.register_keras_serializable(package="tfmodels")
class IntLayerNorm(_QuantLayer):
    """Layer norm with an integer square root and division (`i-LayerNorm`); the reference's float formula
    (`y / sqrt(eps + var)`) when dequantized.

    Args:
        epsilon: float, used in float mode only.
        quant_mode: bool; force_dequant: `"layernorm"` / `"nonlinear"` keep it in float.

    Variables: `gamma`, `beta` `(channels,)`; `shift` `(1,)` (non-trainable, from calibration): right shift
    of the centred integers before squaring, so the variance fits 32 bits.

    Returns:
        `(y_int * s, s)` with the per-channel `s = sqrt(channels) / 2 ** 30 * gamma`.
    """

    max_bit = 32

    def __init__(self, epsilon=1e-12, quant_mode=False, force_dequant="none", **kwargs):
        super().__init__(quant_mode=_dequantized(quant_mode, force_dequant, "layernorm"), **kwargs)
        self.epsilon = epsilon

    def build(self, input_shape):
        channels = input_shape[-1]
        self.gamma = self.add_weight(shape=(channels,), name="gamma", initializer="ones")
        self.beta = self.add_weight(shape=(channels,), name="beta", initializer="zeros")
        self.shift = self.add_weight(shape=(1,), name="shift", initializer="zeros", trainable=False)
        self.built = True

    def call(self, x, scaling_factor=None, training=None):
        _check_inference(self, training)
        if not self.quant_mode:
            y = x - tf.reduce_mean(x, axis=-1, keepdims=True)
            var = tf.reduce_mean(tf.square(y), axis=-1, keepdims=True)
            return y / tf.sqrt(_f32(self.epsilon) + var) * self.gamma + self.beta, None
        dim_sqrt = tf.sqrt(_f32(x.shape[-1]))
        x_int = x / scaling_factor
        y_int = x_int - tf.round(tf.reduce_mean(x_int, axis=-1, keepdims=True))
        two_shift = tf.pow(_f32(2.0), self.shift)
        var_int = tf.reduce_sum(tf.square(tf.floor(y_int / two_shift)), axis=-1, keepdims=True)
        std_int = tf.floor(tf.sqrt(var_int)) * two_shift
        factor = tf.floor(_rdiv(2.0 ** 31, std_int))
        y_int = tf.floor(y_int * factor / _f32(2.0))
        scale = dim_sqrt / _f32(2.0 ** 30)
        bias_int = tf.floor((self.beta / self.gamma) / scale)
        scale = scale * self.gamma
        return (y_int + bias_int) * scale, scale

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon, "force_dequant": "none"}
