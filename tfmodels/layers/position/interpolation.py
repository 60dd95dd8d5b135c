"""Bicubic resizing of a 2-D grid of position embeddings, as PyTorch's `interpolate` does it.

ViT, DeiT and CLIP run at another image resolution than they were trained at
(`interpolate_pos_encoding=True`) by resizing the `(grid, grid, D)` table of
patch positions with `torch.nn.functional.interpolate(mode="bicubic",
align_corners=False)`. A bicubic resize is separable and linear, so it is two
matrix products: `out = W_h @ table @ W_w^T` per feature, with `W` the
`(out_size, in_size)` matrix of cubic-convolution weights PyTorch applies.
The matrices depend only on the (static) sizes, so they are NumPy constants and
the layer stays XLA-compilable.

PyTorch's rule (`aten/src/ATen/native/UpSample.h`, CPU kernel
`upsample_bicubic2d`): with `size` given, `scale = in_size / out_size`; output
index `i` reads the source coordinate `x = scale * (i + 0.5) - 0.5` (not
clamped), `x0 = floor(x)`, `t = x - x0`; the four taps `x0 - 1 .. x0 + 2` are
clamped into `[0, in_size - 1]` and weighted with Keys' cubic convolution,
`A = -0.75`. No antialiasing (`antialias=False`, the default).

References:
    Keys, "Cubic convolution interpolation for digital image processing", 1981.
    Parity reference: `transformers.models.vit.modeling_vit.ViTEmbeddings.interpolate_pos_encoding`.
"""

import math

import numpy as np
from keras import ops

_CUBIC_A = -0.75


def _cubic_weights(t):
    """PyTorch's `get_cubic_upsample_coefficients(t)`: the weights of taps -1, 0, 1, 2."""
    a = _CUBIC_A

    def near(x):  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    return (far(t + 1.0), near(t), near(1.0 - t), far(2.0 - t))


def bicubic_resize_matrix(in_size, out_size):
    """The `(out_size, in_size)` float64 matrix of a 1-D bicubic resize (`align_corners=False`).

    Args:
        in_size: int, source length.
        out_size: int, target length.

    Returns:
        `np.ndarray` `W` with `resized = W @ source` along that axis.

    Raises:
        ValueError: for a non-positive size.
    """
    if in_size < 1 or out_size < 1:
        raise ValueError(f"Sizes must be positive. Received: in_size={in_size}, out_size={out_size}")
    scale = in_size / out_size
    matrix = np.zeros((out_size, in_size), dtype="float64")
    for i in range(out_size):
        x = scale * (i + 0.5) - 0.5
        x0 = math.floor(x)
        for offset, weight in zip((-1, 0, 1, 2), _cubic_weights(x - x0)):
            matrix[i, min(max(x0 + offset, 0), in_size - 1)] += weight
    return matrix


def interpolate_grid(grid, new_height, new_width):
    """Bicubically resizes a `(height, width, D)` grid to `(new_height, new_width, D)`.

    Args:
        grid: float tensor `(height, width, D)` with static sizes.
        new_height: int.
        new_width: int.

    Returns:
        float tensor `(new_height, new_width, D)`, in `grid`'s dtype (the
        products run in float32 at least).
    """
    height, width = int(grid.shape[0]), int(grid.shape[1])
    if (height, width) == (new_height, new_width):
        return grid  # the weights are (0, 1, 0, 0): PyTorch's result is the table itself
    compute_dtype = "float32" if grid.dtype in ("float16", "bfloat16") else grid.dtype
    rows = ops.convert_to_tensor(bicubic_resize_matrix(height, new_height), dtype=compute_dtype)
    cols = ops.convert_to_tensor(bicubic_resize_matrix(width, new_width), dtype=compute_dtype)
    grid = ops.cast(grid, compute_dtype)
    resized = ops.einsum("ih,hwd->iwd", rows, grid)  # (new_height, width, D)
    resized = ops.einsum("jw,iwd->ijd", cols, resized)  # (new_height, new_width, D)
    return resized
