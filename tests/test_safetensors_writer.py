"""The streaming safetensors writer writes the bytes `safetensors.numpy.save_file` writes (the oracle)."""

import ml_dtypes
import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import save_file

from tfmodels.converters import safetensors_writer
from tfmodels.converters.safetensors_writer import StreamedTensor

_RNG = np.random.default_rng(0)
TENSORS = {  # every dtype the writer knows, a scalar, an empty tensor, names that tie on dtype
    "encoder.weight": _RNG.standard_normal((3, 5)).astype(np.float32),
    "logit_scale": np.array(2.6592, np.float32),  # 0-d, like CLIP's
    "empty": np.zeros((0, 4), np.float32),
    "a.b": _RNG.standard_normal(2).astype(np.float32),
    "a.a": _RNG.standard_normal((2, 1, 3)).astype(np.float32),
    "bf16": _RNG.standard_normal((4, 3)).astype(ml_dtypes.bfloat16),
    "bf16_scalar": np.array(-1.5, ml_dtypes.bfloat16),
    "half": _RNG.standard_normal(7).astype(np.float16),
    "double": _RNG.standard_normal((2, 2)).astype(np.float64),
    "complex": (_RNG.standard_normal(3) + 1j).astype(np.complex64),
    "ids": np.arange(6, dtype=np.int64).reshape(2, 3),
    "u64": np.arange(3, dtype=np.uint64),
    "i32": np.arange(5, dtype=np.int32),
    "u32": np.arange(5, dtype=np.uint32),
    "i16": np.arange(3, dtype=np.int16),
    "u16": np.arange(3, dtype=np.uint16),
    "i8": np.arange(-2, 3, dtype=np.int8),
    "u8": np.arange(9, dtype=np.uint8),
    "mask": np.array([True, False, True]),
    "f8_e4m3": _RNG.standard_normal(5).astype(ml_dtypes.float8_e4m3fn),
    "f8_e5m2": _RNG.standard_normal(6).astype(ml_dtypes.float8_e5m2),
    "big_endian": np.arange(4, dtype=">i4"),
}


def _streamed(tensors, split_rows=False):
    def blocks(array):
        if split_rows and array.ndim and len(array) > 1:
            return lambda: iter(np.array_split(array, 2))
        return lambda: (array,)

    return {k: StreamedTensor(v.shape, v.dtype, blocks(v)) for k, v in tensors.items()}


def _reference_bytes(tensors, tmp_path):
    save_file(tensors, tmp_path / "reference.safetensors", metadata={"format": "pt"})
    return (tmp_path / "reference.safetensors").read_bytes()


@pytest.mark.parametrize("split_rows", [False, True], ids=["whole", "row_blocks"])
def test_bytes_equal_the_library_for_every_dtype(split_rows, tmp_path):
    safetensors_writer.write_file(tmp_path / "ours.safetensors", _streamed(TENSORS, split_rows))
    assert (tmp_path / "ours.safetensors").read_bytes() == _reference_bytes(TENSORS, tmp_path)


@pytest.mark.parametrize("name", ["", *TENSORS])  # each alone (header padding varies), and no tensor at all
def test_bytes_equal_the_library_for_one_tensor(name, tmp_path):
    tensors = {name: TENSORS[name]} if name else {}
    safetensors_writer.write_file(tmp_path / "ours.safetensors", _streamed(tensors))
    assert (tmp_path / "ours.safetensors").read_bytes() == _reference_bytes(tensors, tmp_path)


def test_non_contiguous_blocks_are_written_in_c_order(tmp_path):
    kernel = _RNG.standard_normal((5, 3)).astype(np.float32)
    streamed = {"weight": StreamedTensor((3, 5), np.dtype(np.float32), lambda: (kernel.T,))}
    safetensors_writer.write_file(tmp_path / "ours.safetensors", streamed)
    reference = _reference_bytes({"weight": np.ascontiguousarray(kernel.T)}, tmp_path)
    assert (tmp_path / "ours.safetensors").read_bytes() == reference


def test_safe_open_reads_back_equal_values(tmp_path):
    safetensors_writer.write_file(tmp_path / "ours.safetensors", _streamed(TENSORS, split_rows=True))
    with safe_open(tmp_path / "ours.safetensors", framework="np") as f:
        assert f.metadata() == {"format": "pt"}
        assert sorted(f.keys()) == sorted(TENSORS)
        for name, expected in TENSORS.items():
            if name.startswith("f8_"):  # safetensors' NumPy reader has no float8 (its bytes are compared above)
                continue
            got = f.get_tensor(name)
            assert got.dtype.name == expected.dtype.name and got.shape == expected.shape, name
            np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("computed, message", [
    (np.zeros((3, 5), np.float16), "planned as float32 \\(3, 5\\) but computed as float16"),
    (np.zeros((5, 3), np.float32), "planned as float32 \\(3, 5\\) but computed as float32 \\(5, 3\\)"),
    (np.zeros((2, 5), np.float32), "planned with 3 row\\(s\\) but computed with 2"),
    (np.zeros(15, np.float32), "computed as float32 \\(15,\\)"),
])
def test_a_tensor_that_differs_from_its_plan_is_an_error(computed, message, tmp_path):
    streamed = {"w": StreamedTensor((3, 5), np.dtype(np.float32), lambda: (computed,))}
    with pytest.raises(ValueError, match=message):
        safetensors_writer.write_file(tmp_path / "ours.safetensors", streamed)


@pytest.mark.parametrize("dtype", [np.complex128, np.dtype("<U3"), object])
def test_unsupported_dtype_is_a_type_error(dtype, tmp_path):
    streamed = {"w": StreamedTensor((2,), np.dtype(dtype), lambda: (np.zeros(2, dtype),))}
    with pytest.raises(TypeError, match="safetensors cannot store dtype"):
        safetensors_writer.write_file(tmp_path / "ours.safetensors", streamed)
