"""`num_parameters()` against `transformers.PreTrainedModel.num_parameters` on the same checkpoints."""

import pytest
import transformers

import tfmodels
from tests.helpers import hf_checkpoint
from tests.tiny_models import tiny_config

CASES = [("BertForMaskedLM", "BertConfig", "bert"), ("GPT2LMHeadModel", "GPT2Config", "gpt2"),
         ("BartForConditionalGeneration", "BartConfig", "bart"), ("T5ForConditionalGeneration", "T5Config", "t5"),
         ("ViTForImageClassification", "ViTConfig", "vit")]


@pytest.mark.parametrize("class_name,config_name,kind", CASES, ids=[c[0] for c in CASES])
def test_num_parameters_matches_transformers(class_name, config_name, kind, tmp_path):
    """Tied tables count once, buffers (BART's final_logits_bias) not at all, embeddings as nn.Embedding."""
    path = hf_checkpoint(class_name, getattr(transformers, config_name)(**tiny_config(kind)), tmp_path)
    reference = getattr(transformers, class_name).from_pretrained(path)
    model = getattr(tfmodels, class_name).from_pretrained(path)
    for exclude in (False, True):
        assert model.num_parameters(exclude_embeddings=exclude) == reference.num_parameters(
            exclude_embeddings=exclude), exclude
    assert model.num_parameters(only_trainable=True) == reference.num_parameters(only_trainable=True)


def test_only_trainable_leaves_out_frozen_layers(tmp_path):
    path = hf_checkpoint("BertForMaskedLM", transformers.BertConfig(**tiny_config("bert")), tmp_path)
    reference = transformers.BertForMaskedLM.from_pretrained(path)
    for p in reference.bert.embeddings.parameters():
        p.requires_grad = False
    model = tfmodels.BertForMaskedLM.from_pretrained(path)
    model.backbone.embeddings.trainable = False
    assert model.num_parameters() == reference.num_parameters()
    assert model.num_parameters(only_trainable=True) == reference.num_parameters(only_trainable=True)
    with pytest.raises(ValueError, match="not built"):
        tfmodels.BertModel(**tiny_config("bert")).num_parameters()
