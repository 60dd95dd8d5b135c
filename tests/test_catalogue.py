"""The family declarations (`tfmodels.models.catalogue`) and what is built from them."""

import pytest
import transformers

import tfmodels
from tfmodels import auto, converters
from tfmodels.models import catalogue


# Families `transformers` 5 no longer ships (their parity uses fixtures, see scripts/).
REMOVED_FROM_TRANSFORMERS = {"transfo-xl", "retribert", "mmbt", "xlm-prophetnet"}


def _registrations():
    return [(task, model_type, cls) for task, registry in auto.MODEL_REGISTRIES.items()
            for model_type, cls in registry.items()]


@pytest.mark.parametrize("task,model_type,cls", _registrations(), ids=lambda v: getattr(v, "__name__", v))
def test_auto_class_is_the_reference_class_for_its_model_type(task, model_type, cls):
    # The class's own model_type is the registry key, and transformers has the same class name for it.
    assert cls.model_type == model_type
    if model_type in REMOVED_FROM_TRANSFORMERS:
        assert not hasattr(transformers, cls.__name__)
        return
    reference = getattr(transformers, cls.__name__)
    assert reference.config_class.model_type == model_type


def test_every_model_type_has_a_weight_table_and_every_class_is_exported():
    for family in catalogue.families():
        for model_type in family.model_types:
            assert model_type in converters.WEIGHT_TABLES, (family, model_type)
        for name, obj in family.exports.items():
            assert getattr(tfmodels, name) is obj
            assert name in tfmodels.__all__
    assert len(tfmodels.__all__) == len(set(tfmodels.__all__))


def test_standard_suffixes_and_overrides():
    assert auto.MODEL_REGISTRIES["question-answering"]["xlnet"] is tfmodels.XLNetForQuestionAnsweringSimple
    assert auto.MODEL_REGISTRIES["causal-lm"]["bert"] is tfmodels.BertLMHeadModel
    assert auto.MODEL_REGISTRIES["seq2seq-lm"]["marian"] is tfmodels.MarianMTModel
    assert "deberta" not in auto.MODEL_REGISTRIES["multiple-choice"]  # no DebertaForMultipleChoice
    assert auto.MODEL_REGISTRIES["multiple-choice"]["deberta-v2"] is tfmodels.DebertaV2ForMultipleChoice


def test_unknown_task_is_refused():
    with pytest.raises(ValueError, match="Unknown Auto tasks"):
        catalogue.Family("tfmodels.models.bert", {"bert": "Bert"}, tasks={"summarization": "ForSummary"})
    with pytest.raises(ValueError, match="Unknown task"):
        auto.register_model("summarization", "bert", tfmodels.BertModel)
