"""The families tfmodels ships, and how each one declares itself.

A family is a package `tfmodels/models/<name>/` whose `__init__.py` exports
its classes in `__all__` and declares, once, a `FAMILY = Family(...)`: its
Hugging Face `model_type`s and their class-name prefixes, any Auto task whose
class does not follow the standard name, and the converter module holding its
weight tables. Everything else reads that declaration:

- `tfmodels/__init__.py` exports every family's `__all__`;
- `tfmodels.auto` fills the `AutoModel*` registries (`Family.auto_entries`);
- `tfmodels.converters` imports each family's converter module, whose
  `@register_weight_table(model_type)` functions become the weight tables;
- the CLI's `--task` choices are the Auto tasks.

Adding a family: its package (model file + `FAMILY`), its converter module,
and one line in `FAMILIES` below.

Auto classes follow Hugging Face's names: for each `model_type -> prefix`, the
class `prefix + suffix` of the family is registered for the task of that
suffix (`TASK_SUFFIXES`, first existing name wins), unless `Family.tasks`
names another suffix (or `None`: not registered) for that task.
"""

import importlib
import sys

# Package names under `tfmodels.models`, one per family.
FAMILIES = (
    "bert",
    "layoutlm",
    "xlm",
    "flaubert",
    "mobilebert",
    "squeezebert",
    "deberta",
    "roformer",
    "mpnet",
    "convbert",
    "funnel",
    "xlnet",
    "transfo_xl",
    "gpt2",
    "ctrl",
    "gpt_neo",
    "openai",
    "roberta",
    "electra",
    "distilbert",
    "albert",
    "megatron_bert",
    "dpr",
    "t5",
    "bart",
    "longformer",
    "led",
    "vit",
    "deit",
    "clip",
    "big_bird",
    "bigbird_pegasus",
    "rag",
    "reformer",
    "prophetnet",
    "wav2vec2",
    "tapas",
    "bert_generation",
    "encoder_decoder",
    "luke",
    "ibert",
    "lxmert",
    "retribert",
    "mmbt",
    "speech_to_text",
)

# Auto task -> the Hugging Face class-name suffixes of its classes, tried in order.
TASK_SUFFIXES = {
    "base": ("Model",),
    "sequence-classification": ("ForSequenceClassification",),
    "token-classification": ("ForTokenClassification",),
    "question-answering": ("ForQuestionAnswering",),
    "multiple-choice": ("ForMultipleChoice",),
    "masked-lm": ("ForMaskedLM",),
    "causal-lm": ("ForCausalLM", "LMHeadModel"),
    "seq2seq-lm": ("ForConditionalGeneration",),
    "image-classification": ("ForImageClassification",),
    "ctc": ("ForCTC",),
    # Speech families name their utterance classifier `ForSequenceClassification` and map it here
    # with `Family.tasks` (and out of "sequence-classification", which takes text).
    "audio-classification": ("ForAudioClassification",),
    "table-question-answering": ("ForTableQuestionAnswering",),
    # Speech encoder-decoders name their class `ForConditionalGeneration`, as the text ones do: a
    # speech family maps it here with `Family.tasks` (and out of "seq2seq-lm", which takes text).
    "speech-seq2seq": ("ForSpeechSeq2Seq",),
    # Dual encoders (CLIP) register their full model here with `Family.tasks`; no suffix names it.
    "zero-shot-image-classification": (),
}


class Family:
    """A family's declaration (`FAMILY` in its package's `__init__.py`).

    Args:
        package: the package's `__name__` (`"tfmodels.models.bert"`).
        model_types: `{model_type: class-name prefix}`, e.g. `{"bert": "Bert"}`;
            several for families that share code (`{"roberta": "Roberta",
            "xlm-roberta": "XLMRoberta", "camembert": "Camembert"}`).
        tasks: `{task: suffix or tuple of suffixes}` overrides of
            `TASK_SUFFIXES` for this family (`{"question-answering":
            "ForQuestionAnsweringSimple"}`); `None` keeps the task out of the
            Auto registries; a dict `{model_type: suffix}` overrides it for
            the model types named and keeps the others out
            (`{"zero-shot-image-classification": {"clip": "Model"}}`).
        converter: module whose import registers the weight tables; default
            `tfmodels.converters.<package's last name>`.

    Raises:
        ValueError: for a task name that is not in `TASK_SUFFIXES`.
    """

    def __init__(self, package, model_types, tasks=None, converter=None):
        unknown = sorted(set(tasks or ()) - set(TASK_SUFFIXES))
        if unknown:
            raise ValueError(f"Unknown Auto tasks {unknown} in {package}. Known tasks: {sorted(TASK_SUFFIXES)}.")
        self.package = package
        self.model_types = dict(model_types)
        self.tasks = dict(tasks or {})
        self.converter = converter or "tfmodels.converters." + package.rsplit(".", 1)[-1]

    @property
    def module(self):
        return sys.modules.get(self.package) or importlib.import_module(self.package)

    @property
    def exports(self):
        """`{name: object}` of the family's public classes (its `__all__`)."""
        module = self.module
        return {name: getattr(module, name) for name in module.__all__}

    def auto_entries(self):
        """Yields `(task, model_type, class)` for every Auto registration of the family."""
        exports = self.exports
        for model_type, prefix in self.model_types.items():
            for task, suffixes in TASK_SUFFIXES.items():
                if task in self.tasks:
                    override = self.tasks[task]
                    if isinstance(override, dict):
                        override = override.get(model_type)
                    suffixes = () if override is None else (override,) if isinstance(override, str) else override
                name = next((prefix + s for s in suffixes if prefix + s in exports), None)
                if name is not None:
                    yield task, model_type, exports[name]

    def __repr__(self):
        return f"Family({self.package!r}, model_types={self.model_types!r})"


def families():
    """The declared `Family` of every package in `FAMILIES`, importing them."""
    return [importlib.import_module(f"tfmodels.models.{name}").FAMILY for name in FAMILIES]
