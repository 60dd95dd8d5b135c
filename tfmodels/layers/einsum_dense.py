"""`EinsumDense` and `Dense` whose products run as one 2-D matmul, kept fast in XLA decoding loops.

`contract` maps an einsum onto a reshape-matmul-reshape where the equation
allows it; `matmul_2d` is the one 2-D product both layers (and the tied LM
head, `embeddings.logits_against_rows`) use, which `xla_matrix_vector_guard`
keeps a library dot for one-row (decoding-step) products.
"""

import contextlib
import math
import threading

import keras
import tensorflow as tf
from keras import ops

_TRACING = threading.local()


@contextlib.contextmanager
def xla_matrix_vector_guard(enabled=True):
    """While tracing a function compiled with XLA, keep one-row projections as multi-threaded library dots.

    At batch 1 and one position (each step of `generate()`), a projection is a
    matrix-vector product, and XLA's CPU compiler has two ways of making it
    slower than the library dot it calls otherwise (measured on GPT-2's
    decoding step with `--xla_cpu_enable_xprof_traceme`, 2026-12-01, 2 cores):

    - fused with its producers (the reshape of a `(d, n, h)` kernel and the
      layer norm before it) into a naive loop that reads the kernel column by
      column: about 5 GB/s;
    - fused with the bias add after it into one output fusion whose emitted
      GEMV runs on one thread: about 14 GB/s;

    against about 21 GB/s for the stand-alone dot. Inside this context,
    `matmul_2d` puts an XLA optimization barrier on a one-row product's
    kernel and result, which keeps the dot out of both fusions inside an XLA
    while loop (the decoding loop; outside a loop XLA drops barriers on entry
    parameters). Use it only around tracing for `tf.function(jit_compile=True)`:
    the barrier op has no TensorFlow kernel outside XLA. Test:
    `tests/test_layers.py::test_one_row_projections_stay_library_dots_under_xla`.
    """
    previous = getattr(_TRACING, "xla", False)
    _TRACING.xla = bool(enabled)
    try:
        yield
    finally:
        _TRACING.xla = previous


def _optimization_barrier(tensor):
    from tensorflow.compiler.tf2xla.ops import gen_xla_ops

    (tensor,) = gen_xla_ops.xla_optimization_barrier([tensor])
    return tensor


def matmul_2d(x, kernel, transpose_b=False):
    """`x @ kernel` for `x` `(rows, k)` and `kernel` `(k, n)` (`(n, k)` with `transpose_b`).

    One rank-2 dot; with `transpose_b` it contracts the kernel's last axis as
    stored (no transposed copy). See `xla_matrix_vector_guard` for one-row
    products traced for XLA.
    """
    guard = getattr(_TRACING, "xla", False) and x.shape[0] == 1
    if guard:
        kernel = _optimization_barrier(kernel)
    if transpose_b:
        y = tf.matmul(x, kernel, transpose_b=True)  # keras' matmul would transpose the kernel first
    else:
        y = ops.matmul(x, kernel)
    return _optimization_barrier(y) if guard else y


def add_bias_2d(y, bias):
    """`y (rows, n) + bias (n,)` as TensorFlow's `BiasAdd`, the op oneDNN fuses into the matmul before it.

    In graph mode (`tf.function` without XLA) TensorFlow's remapper rewrites
    `MatMul -> BiasAdd [-> Gelu / Relu / ...]` into one oneDNN matmul with the
    bias and activation as post-ops; an `AddV2` bias, or a reshape between the
    product and the activation, leaves them as separate passes over the
    output. Measured on a `(6400, 384) x (384, 1536)` product + exact GELU,
    2026-12-01, 2 cores: 70.8 ms unfused, 44.8 ms fused, with results equal
    to PyTorch's `gelu` (max |diff| 0.0). Under XLA `BiasAdd` is the same
    broadcast add.
    """
    return tf.nn.bias_add(y, ops.cast(bias, y.dtype))


def matmul_plan(equation):
    """How `einsum(equation, x, kernel)` maps onto one 2-D matmul, or `None`.

    It does when `equation` reads `A C, C K -> A K`: the contracted letters `C`
    end `x` and start the kernel in the same order, and the output is `x`'s
    free letters followed by the kernel's (e.g. `btd,dnh->btnh` into heads,
    `btnh,nhd->btd` out of them).

    Returns:
        `(num_free_input_axes, num_contracted_axes)` or `None`.
    """
    if "..." in equation or "->" not in equation:
        return None
    inputs, output = equation.split("->")
    if inputs.count(",") != 1:
        return None
    lhs, rhs = inputs.split(",")
    contracted = "".join(c for c in lhs if c in rhs and c not in output)
    if not contracted or not lhs.endswith(contracted) or not rhs.startswith(contracted):
        return None
    free_lhs, free_rhs = lhs[: len(lhs) - len(contracted)], rhs[len(contracted):]
    if output != free_lhs + free_rhs or set(free_lhs) & set(rhs):
        return None
    return len(free_lhs), len(contracted)


def contract(equation, x, kernel, plan=None, bias=None):
    """`ops.einsum(equation, x, kernel) (+ bias)`, as a reshape-matmul-reshape when `matmul_plan` allows.

    Outside XLA, TensorFlow runs an einsum like `btd,dnh->btnh` as a
    `BatchMatMulV2` that broadcasts the kernel over the batch (one small
    matmul per example); one `(batch * seq_len, d) x (d, n * h)` matmul is
    about twice as fast on CPUs. Under XLA both compile to the same dot.

    A `bias` shaped like the kernel's free axes (`(n, h)` above) is added to
    the 2-D product, before the reshape. The sums are the same; the point is
    XLA's CPU fusion: a dot directly followed by an add becomes one output
    fusion that calls the library GEMV/GEMM. With a reshape in between, at
    batch 1 and one position (a decoding step) the dot is a matrix-vector
    product that XLA instead fuses with its producer (the layer norm before
    the query/key/value projections) into a naive elementwise loop that reads
    the kernel column by column: 2.7x slower per byte in GPT-2's
    `generate()` (profiled, 2026-12-01).
    """
    plan = matmul_plan(equation) if plan is None else plan
    if not plan:
        y = ops.einsum(equation, x, kernel)
        return y if bias is None else ops.add(y, bias)
    num_free, num_contracted = plan
    contracted_size = math.prod(kernel.shape[:num_contracted])
    kernel_free = tuple(kernel.shape[num_contracted:])
    free = ops.shape(x)[:num_free]
    y = matmul_2d(rows_2d(x, num_free, contracted_size), ops.reshape(kernel, (contracted_size, -1)))
    if bias is not None:
        if tuple(bias.shape) != kernel_free:
            raise ValueError(f"contract(): bias shape {tuple(bias.shape)} is not the kernel's free shape {kernel_free}; "
                             "add such a bias after the call")
        y = add_bias_2d(y, ops.reshape(bias, (-1,)))
    return ops.reshape(y, (*free, *kernel_free))


def rows_2d(x, num_free, row_size):
    """`x` reshaped to `(rows, row_size)`, with a static row count where `x`'s free axes are static."""
    free = x.shape[:num_free]
    rows = math.prod(free) if None not in free else -1
    return ops.reshape(x, (rows, row_size))


class EinsumDense(keras.layers.EinsumDense):
    """`keras.layers.EinsumDense` (same arguments, variables and results) using `contract`.

    Quantized layers keep Keras' own code path.
    """

    def build(self, input_shape):
        super().build(input_shape)
        self._plan = matmul_plan(self.equation) or ()

    def call(self, inputs, training=None):
        if getattr(self, "quantization_mode", None):
            return super().call(inputs, training=training)
        fold_bias = self.bias is not None and bool(self._plan) and (
            tuple(self.bias.shape) == tuple(self.kernel.shape[self._plan[1]:]))
        x = contract(self.equation, inputs, self.kernel, plan=self._plan, bias=self.bias if fold_bias else None)
        if self.bias is not None and not fold_bias:
            x = ops.add(x, self.bias)
        if self.activation is not None:
            x = self.activation(x)
        return x


class Dense(keras.layers.Dense):
    """`keras.layers.Dense` (same arguments, variables and results) whose product goes through `matmul_2d`.

    The bias (`add_bias_2d`) and the activation are applied to the 2-D
    product before it is reshaped back, so graph mode fuses them into the
    matmul. `call(inputs, activation=fn)` applies `fn` there instead of the
    layer's own activation (how `FeedForward` applies its Hugging Face
    activation without storing it in the layer's config). Quantized and LoRA
    layers keep Keras' own code path.
    """

    def call(self, inputs, training=None, activation=None):
        if getattr(self, "quantization_mode", None) or getattr(self, "lora_enabled", False):
            x = super().call(inputs, training=training)
            return x if activation is None else activation(x)
        units = self.kernel.shape[-1]
        free = ops.shape(inputs)[:-1]
        x = matmul_2d(rows_2d(inputs, len(inputs.shape) - 1, inputs.shape[-1]), self.kernel)
        if self.bias is not None:
            x = add_bias_2d(x, self.bias)
        activation = self.activation if activation is None else activation
        if activation is not None:
            x = activation(x)
        return ops.reshape(x, (*free, units))
