"""`AutoModel*`: pick the tfmodels class from `config.json`'s `model_type`.

Each Auto class has a registry `{model_type: class}`; architectures add
themselves with `register_model`. `from_pretrained` reads the config (local
directory or Hub id), picks the class and delegates to its
`from_pretrained`; `from_config` builds a randomly initialised model.
"""

from tfmodels.converters import files
from tfmodels.converters.errors import UnknownModelTypeError
from tfmodels.models import bert


class _AutoModelBase:
    """Shared logic of the Auto classes; `_registry` is set per subclass."""

    _registry = None
    task = None

    def __init__(self):
        raise TypeError(f"{type(self).__name__} is a factory: use .from_pretrained(...) or .from_config(...).")

    @classmethod
    def model_class(cls, model_type):
        """Returns the class registered for `model_type`.

        Raises:
            UnknownModelTypeError: naming the known types for this task.
        """
        if model_type is None:
            raise UnknownModelTypeError(
                "config.json has no 'model_type' field, so the architecture cannot be chosen. "
                "Add it (e.g. \"model_type\": \"bert\") or use the architecture's class directly."
            )
        try:
            return cls._registry[model_type]
        except KeyError:
            raise UnknownModelTypeError(
                f"{cls.__name__} does not support model_type={model_type!r}. "
                f"Supported model types: {sorted(cls._registry)}."
            ) from None

    @classmethod
    def from_config(cls, config, **overrides):
        """Builds a randomly initialised model from a config dict, `config.json` path or config object.

        Args:
            config: see `tfmodels.converters.files.config_as_dict` (a
                `transformers` config object works).
            **overrides: config fields that replace those in `config`.
        """
        config = {**files.config_as_dict(config), **overrides}
        return cls.model_class(config.get("model_type")).from_config(config)

    @classmethod
    def from_pretrained(cls, path_or_repo_id, **kwargs):
        """Loads a checkpoint into the class its `model_type` selects (from `config=` when given).

        Accepts the arguments of `tfmodels.converters.load_pretrained`.
        """
        from tfmodels.converters import options

        options.refuse_unsupported(kwargs)
        directory = files.resolve_checkpoint_dir(path_or_repo_id, **options.hub_options(kwargs))
        config = options.config_dict(kwargs.get("config"), directory)
        model_class = cls.model_class(config.get("model_type"))
        return model_class.from_pretrained(directory, **kwargs)


def _auto(name, task, registry, doc):
    return type(name, (_AutoModelBase,), {"_registry": registry, "task": task, "__doc__": doc})


MODEL_REGISTRIES = {
    "base": {"bert": bert.BertModel},
    "sequence-classification": {"bert": bert.BertForSequenceClassification},
    "token-classification": {"bert": bert.BertForTokenClassification},
    "question-answering": {"bert": bert.BertForQuestionAnswering},
    "masked-lm": {"bert": bert.BertForMaskedLM},
    "multiple-choice": {"bert": bert.BertForMultipleChoice},
    "causal-lm": {},
    "seq2seq-lm": {},
}

AutoModel = _auto("AutoModel", "base", MODEL_REGISTRIES["base"], "The backbone of any registered architecture.")
AutoModelForSequenceClassification = _auto(
    "AutoModelForSequenceClassification", "sequence-classification",
    MODEL_REGISTRIES["sequence-classification"], "Sequence classification heads (`logits (batch, num_labels)`).",
)
AutoModelForTokenClassification = _auto(
    "AutoModelForTokenClassification", "token-classification",
    MODEL_REGISTRIES["token-classification"], "Token classification heads (`logits (batch, seq_len, num_labels)`).",
)
AutoModelForQuestionAnswering = _auto(
    "AutoModelForQuestionAnswering", "question-answering",
    MODEL_REGISTRIES["question-answering"], "Extractive QA heads (`start_logits`, `end_logits`).",
)
AutoModelForMaskedLM = _auto(
    "AutoModelForMaskedLM", "masked-lm", MODEL_REGISTRIES["masked-lm"], "Masked-LM heads (`logits (batch, seq_len, vocab)`).",
)
AutoModelForMultipleChoice = _auto(
    "AutoModelForMultipleChoice", "multiple-choice",
    MODEL_REGISTRIES["multiple-choice"], "Multiple-choice heads (`logits (batch, num_choices)`).",
)
AutoModelForCausalLM = _auto(
    "AutoModelForCausalLM", "causal-lm", MODEL_REGISTRIES["causal-lm"], "Causal LM heads (`logits`, `past_key_values`).",
)
AutoModelForSeq2SeqLM = _auto(
    "AutoModelForSeq2SeqLM", "seq2seq-lm", MODEL_REGISTRIES["seq2seq-lm"], "Encoder-decoder LM heads.",
)

TASKS = {cls.task: cls for cls in (
    AutoModel, AutoModelForSequenceClassification, AutoModelForTokenClassification,
    AutoModelForQuestionAnswering, AutoModelForMaskedLM, AutoModelForMultipleChoice,
    AutoModelForCausalLM, AutoModelForSeq2SeqLM,
)}


def register_model(task, model_type, model_class):
    """Adds `model_class` to the Auto registry of `task` (a key of `TASKS`)."""
    MODEL_REGISTRIES[task][model_type] = model_class

from tfmodels.models import layoutlm  # noqa: E402

for _task, _cls in (
    ("base", layoutlm.LayoutLMModel),
    ("sequence-classification", layoutlm.LayoutLMForSequenceClassification),
    ("token-classification", layoutlm.LayoutLMForTokenClassification),
    ("question-answering", layoutlm.LayoutLMForQuestionAnswering),
    ("masked-lm", layoutlm.LayoutLMForMaskedLM),
):
    register_model(_task, "layoutlm", _cls)

from tfmodels.models import flaubert, xlm  # noqa: E402

for _type, _module, _prefix in (("xlm", xlm, "XLM"), ("flaubert", flaubert, "Flaubert")):
    for _task, _suffix in (
        ("base", "Model"),
        ("sequence-classification", "ForSequenceClassification"),
        ("token-classification", "ForTokenClassification"),
        ("question-answering", "ForQuestionAnsweringSimple"),
        ("multiple-choice", "ForMultipleChoice"),
        ("masked-lm", "WithLMHeadModel"),
        ("causal-lm", "WithLMHeadModel"),
    ):
        register_model(_task, _type, getattr(_module, _prefix + _suffix))

from tfmodels.models import mobilebert  # noqa: E402

for _task, _cls in (
    ("base", mobilebert.MobileBertModel),
    ("sequence-classification", mobilebert.MobileBertForSequenceClassification),
    ("token-classification", mobilebert.MobileBertForTokenClassification),
    ("question-answering", mobilebert.MobileBertForQuestionAnswering),
    ("multiple-choice", mobilebert.MobileBertForMultipleChoice),
    ("masked-lm", mobilebert.MobileBertForMaskedLM),
):
    register_model(_task, "mobilebert", _cls)

from tfmodels.models import squeezebert  # noqa: E402

for _task, _cls in (
    ("base", squeezebert.SqueezeBertModel),
    ("sequence-classification", squeezebert.SqueezeBertForSequenceClassification),
    ("token-classification", squeezebert.SqueezeBertForTokenClassification),
    ("question-answering", squeezebert.SqueezeBertForQuestionAnswering),
    ("multiple-choice", squeezebert.SqueezeBertForMultipleChoice),
    ("masked-lm", squeezebert.SqueezeBertForMaskedLM),
):
    register_model(_task, "squeezebert", _cls)

# DeBERTa (v1) and DeBERTa-v2/v3.
from tfmodels.models import deberta as _deberta  # noqa: E402

for _type, _prefix in (("deberta", "Deberta"), ("deberta-v2", "DebertaV2")):
    for _task, _suffix in (("base", "Model"), ("sequence-classification", "ForSequenceClassification"),
                           ("token-classification", "ForTokenClassification"),
                           ("question-answering", "ForQuestionAnswering"), ("masked-lm", "ForMaskedLM")):
        register_model(_task, _type, getattr(_deberta, _prefix + _suffix))
register_model("multiple-choice", "deberta-v2", _deberta.DebertaV2ForMultipleChoice)

# RoFormer.
from tfmodels.models import roformer as _roformer  # noqa: E402

for _task, _suffix in (("base", "Model"), ("sequence-classification", "ForSequenceClassification"),
                       ("token-classification", "ForTokenClassification"),
                       ("question-answering", "ForQuestionAnswering"), ("masked-lm", "ForMaskedLM")):
    register_model(_task, "roformer", getattr(_roformer, "RoFormer" + _suffix))
register_model("multiple-choice", "roformer", _roformer.RoFormerForMultipleChoice)

# MPNet.
from tfmodels.models import mpnet as _mpnet  # noqa: E402

for _task, _suffix in (("base", "Model"), ("sequence-classification", "ForSequenceClassification"),
                       ("token-classification", "ForTokenClassification"),
                       ("question-answering", "ForQuestionAnswering"), ("masked-lm", "ForMaskedLM"),
                       ("multiple-choice", "ForMultipleChoice")):
    register_model(_task, "mpnet", getattr(_mpnet, "MPNet" + _suffix))

# ConvBERT.
from tfmodels.models import convbert as _convbert  # noqa: E402

for _task, _suffix in (("base", "Model"), ("sequence-classification", "ForSequenceClassification"),
                       ("token-classification", "ForTokenClassification"),
                       ("question-answering", "ForQuestionAnswering"), ("masked-lm", "ForMaskedLM")):
    register_model(_task, "convbert", getattr(_convbert, "ConvBert" + _suffix))
register_model("multiple-choice", "convbert", _convbert.ConvBertForMultipleChoice)


def _register_funnel():
    from tfmodels.models import funnel

    for task, cls in (
        ("base", funnel.FunnelModel),
        ("sequence-classification", funnel.FunnelForSequenceClassification),
        ("token-classification", funnel.FunnelForTokenClassification),
        ("question-answering", funnel.FunnelForQuestionAnswering),
        ("masked-lm", funnel.FunnelForMaskedLM),
        ("multiple-choice", funnel.FunnelForMultipleChoice),
    ):
        register_model(task, "funnel", cls)


_register_funnel()


def _register_xlnet():
    from tfmodels.models import xlnet

    for task, cls in (
        ("base", xlnet.XLNetModel),
        ("sequence-classification", xlnet.XLNetForSequenceClassification),
        ("token-classification", xlnet.XLNetForTokenClassification),
        ("question-answering", xlnet.XLNetForQuestionAnsweringSimple),
        ("multiple-choice", xlnet.XLNetForMultipleChoice),
        ("causal-lm", xlnet.XLNetLMHeadModel),
    ):
        register_model(task, "xlnet", cls)


_register_xlnet()


def _register_transfo_xl():
    from tfmodels.models import transfo_xl

    register_model("base", "transfo-xl", transfo_xl.TransfoXLModel)
    register_model("causal-lm", "transfo-xl", transfo_xl.TransfoXLLMHeadModel)


_register_transfo_xl()

from tfmodels.models import gpt2 as _gpt2  # noqa: E402

register_model("base", "gpt2", _gpt2.GPT2Model)
register_model("causal-lm", "gpt2", _gpt2.GPT2LMHeadModel)
register_model("sequence-classification", "gpt2", _gpt2.GPT2ForSequenceClassification)
register_model("token-classification", "gpt2", _gpt2.GPT2ForTokenClassification)

from tfmodels.models import ctrl as _ctrl  # noqa: E402
from tfmodels.models import gpt_neo as _gpt_neo  # noqa: E402
from tfmodels.models import openai as _openai  # noqa: E402

register_model("base", "openai-gpt", _openai.OpenAIGPTModel)
register_model("causal-lm", "openai-gpt", _openai.OpenAIGPTLMHeadModel)
register_model("base", "ctrl", _ctrl.CTRLModel)
register_model("causal-lm", "ctrl", _ctrl.CTRLLMHeadModel)
register_model("base", "gpt_neo", _gpt_neo.GPTNeoModel)
register_model("causal-lm", "gpt_neo", _gpt_neo.GPTNeoForCausalLM)

from tfmodels.models import roberta as _roberta  # noqa: E402

for _prefix, _model_type in (("Roberta", "roberta"), ("XLMRoberta", "xlm-roberta"), ("Camembert", "camembert")):
    for _task, _suffix in (("base", "Model"), ("sequence-classification", "ForSequenceClassification"),
                           ("token-classification", "ForTokenClassification"),
                           ("question-answering", "ForQuestionAnswering"),
                           ("multiple-choice", "ForMultipleChoice"), ("masked-lm", "ForMaskedLM")):
        register_model(_task, _model_type, getattr(_roberta, _prefix + _suffix))

from tfmodels.models import electra as _electra  # noqa: E402

for _task, _suffix in (("base", "Model"), ("sequence-classification", "ForSequenceClassification"),
                       ("token-classification", "ForTokenClassification"), ("question-answering", "ForQuestionAnswering"),
                       ("multiple-choice", "ForMultipleChoice"), ("masked-lm", "ForMaskedLM")):
    register_model(_task, "electra", getattr(_electra, "Electra" + _suffix))

from tfmodels.models import distilbert as _distilbert  # noqa: E402

for _task, _suffix in (("base", "Model"), ("sequence-classification", "ForSequenceClassification"),
                       ("token-classification", "ForTokenClassification"), ("question-answering", "ForQuestionAnswering"),
                       ("multiple-choice", "ForMultipleChoice"), ("masked-lm", "ForMaskedLM")):
    register_model(_task, "distilbert", getattr(_distilbert, "DistilBert" + _suffix))

from tfmodels.models import albert as _albert  # noqa: E402

for _task, _suffix in (("base", "Model"), ("sequence-classification", "ForSequenceClassification"),
                       ("token-classification", "ForTokenClassification"), ("question-answering", "ForQuestionAnswering"),
                       ("multiple-choice", "ForMultipleChoice"), ("masked-lm", "ForMaskedLM")):
    register_model(_task, "albert", getattr(_albert, "Albert" + _suffix))

from tfmodels.models import megatron_bert as _megatron_bert  # noqa: E402

for _task, _suffix in (("base", "Model"), ("sequence-classification", "ForSequenceClassification"),
                       ("token-classification", "ForTokenClassification"), ("question-answering", "ForQuestionAnswering"),
                       ("multiple-choice", "ForMultipleChoice"), ("masked-lm", "ForMaskedLM")):
    register_model(_task, "megatron-bert", getattr(_megatron_bert, "MegatronBert" + _suffix))

from tfmodels.models import dpr as _dpr  # noqa: E402

register_model("base", "dpr", _dpr.DPRQuestionEncoder)  # as transformers' AutoModel

# Causal-LM heads of the encoder families (`is_decoder=True` configs).
register_model("causal-lm", "bert", bert.BertLMHeadModel)
register_model("causal-lm", "megatron-bert", _megatron_bert.MegatronBertForCausalLM)
register_model("causal-lm", "electra", _electra.ElectraForCausalLM)
for _type, _prefix in (("roberta", "Roberta"), ("xlm-roberta", "XLMRoberta"), ("camembert", "Camembert")):
    register_model("causal-lm", _type, getattr(_roberta, _prefix + "ForCausalLM"))

from tfmodels.models import t5 as _t5  # noqa: E402

for _prefix, _model_type in (("T5", "t5"), ("MT5", "mt5")):
    register_model("base", _model_type, getattr(_t5, _prefix + "Model"))
    register_model("seq2seq-lm", _model_type, getattr(_t5, _prefix + "ForConditionalGeneration"))
for _task, _suffix in (("sequence-classification", "ForSequenceClassification"),
                       ("token-classification", "ForTokenClassification"),
                       ("question-answering", "ForQuestionAnswering")):
    register_model(_task, "t5", getattr(_t5, "T5" + _suffix))

from tfmodels.models import bart as _bart  # noqa: E402

for _task, _class in (("base", _bart.BartModel), ("seq2seq-lm", _bart.BartForConditionalGeneration),
                      ("sequence-classification", _bart.BartForSequenceClassification),
                      ("question-answering", _bart.BartForQuestionAnswering), ("causal-lm", _bart.BartForCausalLM)):
    register_model(_task, "bart", _class)
for _model_type, _base, _lm in (("mbart", "MBartModel", "MBartForConditionalGeneration"),
                                ("marian", "MarianModel", "MarianMTModel"),
                                ("pegasus", "PegasusModel", "PegasusForConditionalGeneration")):
    register_model("base", _model_type, getattr(_bart, _base))
    register_model("seq2seq-lm", _model_type, getattr(_bart, _lm))

# --- s2s-families: Blenderbot, BlenderbotSmall, M2M100, FSMT (BART-family flags) ---
for _model_type, _base, _lm in (("blenderbot", "BlenderbotModel", "BlenderbotForConditionalGeneration"),
                                ("blenderbot-small", "BlenderbotSmallModel",
                                 "BlenderbotSmallForConditionalGeneration"),
                                ("m2m_100", "M2M100Model", "M2M100ForConditionalGeneration"),
                                ("fsmt", "FSMTModel", "FSMTForConditionalGeneration")):
    register_model("base", _model_type, getattr(_bart, _base))
    register_model("seq2seq-lm", _model_type, getattr(_bart, _lm))
register_model("sequence-classification", "mbart", _bart.MBartForSequenceClassification)
register_model("question-answering", "mbart", _bart.MBartForQuestionAnswering)
for _model_type, _causal in (("mbart", "MBartForCausalLM"), ("marian", "MarianForCausalLM"),
                             ("pegasus", "PegasusForCausalLM"), ("blenderbot", "BlenderbotForCausalLM"),
                             ("blenderbot-small", "BlenderbotSmallForCausalLM")):
    register_model("causal-lm", _model_type, getattr(_bart, _causal))
# --- end s2s-families ---
