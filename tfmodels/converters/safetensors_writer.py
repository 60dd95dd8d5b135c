"""A streaming safetensors file writer: the header from shapes and dtypes, then each tensor's bytes in turn.

The `safetensors` library only writes a file from tensors that all exist at
once, so this writer produces the format itself (one tensor in memory at a
time); its bytes are identical to `safetensors.numpy.save_file`'s.

The format (https://huggingface.co/docs/safetensors): an 8-byte
little-endian header length, a JSON header (`__metadata__`, then per tensor
`dtype`, `shape`, `data_offsets` into the data section) padded with spaces
to a multiple of 8 bytes, then the tensors' bytes, C order, little-endian.
Like the library, tensors are laid out by dtype, largest alignment first,
then by name (`safetensors`' `prepare` sorts by its `Dtype` order, descending).
"""

import json
import math
import struct
import sys
from typing import Callable, Iterable, NamedTuple

import numpy as np

# NumPy dtype name -> safetensors dtype, in the library's `Dtype` order (data are laid out from the end).
_DTYPES = {
    "bool": "BOOL", "uint8": "U8", "int8": "I8", "float8_e5m2": "F8_E5M2", "float8_e4m3fn": "F8_E4M3",
    "int16": "I16", "uint16": "U16", "float16": "F16", "bfloat16": "BF16", "int32": "I32", "uint32": "U32",
    "float32": "F32", "complex64": "C64", "float64": "F64", "int64": "I64", "uint64": "U64",
}
_RANK = {name: rank for rank, name in enumerate(_DTYPES)}


class StreamedTensor(NamedTuple):
    """One tensor of a streamed file: what the header needs, and its data computed when written.

    Attributes:
        shape: tuple of ints (`()` for a scalar).
        dtype: `np.dtype` (ml_dtypes' `bfloat16` and float8 types included).
        blocks: `fn() -> iterable of np.ndarray`: the tensor's data in C
            order, whole or as consecutive row blocks, each of `dtype`.
    """

    shape: tuple
    dtype: np.dtype
    blocks: Callable[[], Iterable[np.ndarray]]


def safetensors_dtype(dtype):
    """The safetensors name (`F32`, `BF16`, `I64`, ...) of a NumPy dtype.

    Raises:
        TypeError: for a dtype safetensors cannot hold (`complex128`, strings, objects, ...).
    """
    name = np.dtype(dtype).name
    if name not in _DTYPES:
        raise TypeError(f"safetensors cannot store dtype {name!r}. Supported: {', '.join(_DTYPES)}.")
    return _DTYPES[name]


def _layout(tensors):
    """`(names in data order, header bytes)`, as `safetensors.serialize` lays them out."""
    for tensor in tensors.values():
        safetensors_dtype(tensor.dtype)
    names = sorted(tensors, key=lambda k: (-_RANK[np.dtype(tensors[k].dtype).name], k))  # dtypes checked above
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name in names:
        tensor = tensors[name]
        size = math.prod(tensor.shape) * np.dtype(tensor.dtype).itemsize
        header[name] = {"dtype": safetensors_dtype(tensor.dtype), "shape": [int(d) for d in tensor.shape],
                        "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return names, struct.pack("<Q", len(text)) + text


def write_file(path, tensors):
    """Writes `{name: StreamedTensor}` to `path` as a safetensors file with metadata `{"format": "pt"}`.

    Each tensor's blocks are computed, written and let go before the next
    tensor's, so the writer holds one block at a time.

    Raises:
        ValueError: a tensor's blocks do not have the dtype or shape its
            header entry announced (a bug in whoever planned the tensors).
    """
    names, header = _layout(tensors)
    with open(path, "wb") as f:
        f.write(header)
        for name in names:
            shape, dtype = tuple(tensors[name].shape), np.dtype(tensors[name].dtype)
            rows = 0
            for block in tensors[name].blocks():
                if block.dtype.name != dtype.name or block.ndim != len(shape) or block.shape[1:] != shape[1:]:
                    raise ValueError(f"tfmodels bug: tensor {name!r} was planned as {dtype.name} {shape} but "
                                     f"computed as {block.dtype.name} {block.shape}.")
                rows += block.shape[0] if shape else 1
                block = np.require(block, requirements="C")
                if block.dtype.byteorder == ">" or (block.dtype.byteorder == "=" and sys.byteorder == "big"):
                    block = block.byteswap()
                f.write(memoryview(block.reshape(-1).view(np.uint8)))
                del block  # before the next block is computed
            if rows != (shape[0] if shape else 1):
                raise ValueError(f"tfmodels bug: tensor {name!r} was planned with {shape[0] if shape else 1} "
                                 f"row(s) but computed with {rows}.")
