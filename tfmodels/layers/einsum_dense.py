"""`EinsumDense` whose contraction runs as one 2-D matmul where the equation allows it."""

import math

import keras
from keras import ops


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


def contract(equation, x, kernel, plan=None):
    """`ops.einsum(equation, x, kernel)`, as a reshape-matmul-reshape when `matmul_plan` allows.

    Outside XLA, TensorFlow runs an einsum like `btd,dnh->btnh` as a
    `BatchMatMulV2` that broadcasts the kernel over the batch (one small
    matmul per example); one `(batch * seq_len, d) x (d, n * h)` matmul is
    about twice as fast on CPUs. Under XLA both compile to the same dot.
    """
    plan = matmul_plan(equation) if plan is None else plan
    if not plan:
        return ops.einsum(equation, x, kernel)
    num_free, num_contracted = plan
    contracted_size = math.prod(kernel.shape[:num_contracted])
    kernel_free = tuple(kernel.shape[num_contracted:])
    free = ops.shape(x)[:num_free]
    y = ops.matmul(ops.reshape(x, (-1, contracted_size)), ops.reshape(kernel, (contracted_size, -1)))
    return ops.reshape(y, (*free, *kernel_free))


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
        x = contract(self.equation, inputs, self.kernel, plan=self._plan)
        if self.bias is not None:
            x = ops.add(x, self.bias)
        if self.activation is not None:
            x = self.activation(x)
        return x
