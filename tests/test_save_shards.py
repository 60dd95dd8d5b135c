"""save_pretrained(max_shard_size=...): Hugging Face shards + index, each streamed one tensor at a time."""

import json
import weakref

import numpy as np
import pytest

import tfmodels
from tests.helpers import compare_outputs, random_inputs, torch_outputs
from tests.test_bert_parity import tiny_bert_config
from tfmodels.converters import saver


@pytest.fixture(scope="module")
def masked_lm():
    return tfmodels.BertForMaskedLM.from_config(tiny_bert_config().to_dict())


def test_sharded_checkpoint_loads_in_transformers_and_back(masked_lm, tmp_path):
    masked_lm.save_pretrained(tmp_path, max_shard_size="20KB")
    index = json.loads((tmp_path / "model.safetensors.index.json").read_text())
    shard_files = sorted(p.name for p in tmp_path.glob("model-*-of-*.safetensors"))
    assert len(shard_files) > 1 and not (tmp_path / "model.safetensors").exists()
    assert shard_files[0] == f"model-00001-of-{len(shard_files):05d}.safetensors"
    assert sorted(set(index["weight_map"].values())) == shard_files
    assert index["metadata"]["total_size"] == sum(
        a.nbytes for a in saver.hf_state_dict(masked_lm).values())
    assert index["metadata"]["total_parameters"] > 0
    inputs = random_inputs(type_vocab_size=3)
    reference = torch_outputs("BertForMaskedLM", str(tmp_path), inputs)  # fails on missing/unexpected keys
    ours = {k: v.numpy() for k, v in masked_lm(inputs).items()}
    compare_outputs(ours, reference)
    assert max(np.abs(ours[k] - reference[k]).max() for k in reference) <= 1e-5
    reloaded = tfmodels.BertForMaskedLM.from_pretrained(tmp_path)
    for a, b in zip(masked_lm.weights, reloaded.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_shards_match_transformers_split(masked_lm, tmp_path):
    from huggingface_hub.serialization._base import split_state_dict_into_shards_factory

    masked_lm.save_pretrained(tmp_path, max_shard_size=30_000)
    ours = json.loads((tmp_path / "model.safetensors.index.json").read_text())["weight_map"]
    split = split_state_dict_into_shards_factory(  # what transformers' save_pretrained calls, on torch tensors
        saver.hf_state_dict(masked_lm), get_storage_size=lambda t: t.nbytes,
        filename_pattern="model{suffix}.safetensors", max_shard_size=30_000)
    assert ours == split.tensor_to_filename


def test_saver_holds_one_tensor_at_a_time(masked_lm, tmp_path, monkeypatch):
    import tfmodels.layers.utils

    live = []  # weak references to every tensor (or row block) the saver computed

    def tracked(array):  # no gc.collect(): a tensor must be freed by reference counting, when the saver drops it
        assert not [ref for ref in live if ref() is not None], "an earlier tensor is alive while the next is computed"
        array = np.array(array, order="C", copy=True)  # a fresh array, freed when the saver lets it go
        live.append(weakref.ref(array))
        return array

    read_rows = saver.read_rows
    row_blocks = []
    monkeypatch.setattr(saver, "_contiguous", tracked)
    monkeypatch.setattr(saver, "read_rows", lambda *args: row_blocks.append(args) or tracked(read_rows(*args)))
    monkeypatch.setattr(tfmodels.layers.utils, "READ_BLOCK_BYTES", 1024)  # the embeddings go in row blocks
    masked_lm.save_pretrained(tmp_path, max_shard_size="20KB")
    keys = json.loads((tmp_path / "model.safetensors.index.json").read_text())["weight_map"]
    assert len(row_blocks) > 1 and len(live) > len(keys)


def test_every_shard_has_the_bytes_safetensors_writes(masked_lm, tmp_path):
    from safetensors.numpy import save_file

    masked_lm.save_pretrained(tmp_path, max_shard_size="20KB")
    weight_map = json.loads((tmp_path / "model.safetensors.index.json").read_text())["weight_map"]
    state = saver.hf_state_dict(masked_lm)
    for shard in sorted(set(weight_map.values())):
        save_file({k: state[k] for k, name in weight_map.items() if name == shard}, tmp_path / "reference",
                  metadata={"format": "pt"})
        assert (tmp_path / shard).read_bytes() == (tmp_path / "reference").read_bytes(), shard


def test_unsharded_save_replaces_stale_shards(masked_lm, tmp_path):
    masked_lm.save_pretrained(tmp_path, max_shard_size="20KB")
    masked_lm.save_pretrained(tmp_path)  # default 50GB: one file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "model.safetensors"]
    masked_lm.save_pretrained(tmp_path, max_shard_size="20KB")
    assert not (tmp_path / "model.safetensors").exists()


@pytest.mark.parametrize("size, expected", [("5GB", 5 * 10**9), ("200MB", 2 * 10**8), ("1GiB", 2**30),
                                            ("10KiB", 10240), ("8Kb", 1000), (123, 123)])
def test_parse_shard_size(size, expected):
    assert saver.parse_shard_size(size) == expected


@pytest.mark.parametrize("size", ["5 gigabytes", "GB", -1, 0, 1.5])
def test_bad_shard_size_is_refused(size, masked_lm, tmp_path):
    with pytest.raises((ValueError, TypeError), match="max_shard_size"):
        masked_lm.save_pretrained(tmp_path, max_shard_size=size)
    assert not any(tmp_path.iterdir())
