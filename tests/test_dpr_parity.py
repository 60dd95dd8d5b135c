"""DPR encoders and reader against `transformers` PyTorch on tiny random configs."""

import pytest
import transformers

import tfmodels
from tests.helpers import assert_parity, assert_save_round_trip, hf_checkpoint, random_inputs


def tiny_config(**overrides):
    fields = dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
                  max_position_embeddings=64, type_vocab_size=3, hidden_act="gelu")
    fields.update(overrides)
    return transformers.DPRConfig(**fields)


@pytest.mark.parametrize("class_name", ["DPRContextEncoder", "DPRQuestionEncoder"])
@pytest.mark.parametrize("projection_dim", [0, 16])
def test_encoder_parity(class_name, projection_dim, tmp_path):
    path = hf_checkpoint(class_name, tiny_config(projection_dim=projection_dim), tmp_path)
    print(class_name, assert_parity(class_name, path, random_inputs(type_vocab_size=3)))


def test_reader_parity(tmp_path):
    path = hf_checkpoint("DPRReader", tiny_config(), tmp_path)
    print(assert_parity("DPRReader", path, random_inputs()))


@pytest.mark.parametrize("class_name", ["DPRContextEncoder", "DPRReader"])
def test_save_pretrained_round_trip(class_name, tmp_path):
    path = hf_checkpoint(class_name, tiny_config(projection_dim=8 if class_name != "DPRReader" else 0), tmp_path / "hf")
    assert_save_round_trip(class_name, path, random_inputs(), tmp_path / "ours")


def test_auto_and_strictness(tmp_path):
    path = hf_checkpoint("DPRQuestionEncoder", tiny_config(), tmp_path)
    assert type(tfmodels.AutoModel.from_pretrained(path)) is tfmodels.DPRQuestionEncoder
    with pytest.raises(tfmodels.WeightMismatchError, match="ctx_encoder"):
        tfmodels.DPRContextEncoder.from_pretrained(path)
