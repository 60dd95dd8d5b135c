"""RAG <-> Hugging Face `RagModel`, `RagTokenForGeneration`, `RagSequenceForGeneration`.

A RAG checkpoint holds its two sub-models' own checkpoints under prefixes:
`question_encoder.` + the question encoder's keys (DPR: `question_encoder.bert_model.*`,
so `question_encoder.question_encoder.bert_model.*`) and `generator.` + the
generator's (BART: `generator.model.shared.weight`, `generator.final_logits_bias`,
...; T5: `generator.shared.weight`, ...); the generation heads put both under
`rag.`. So the table is the sub-models' own tables (from the registry, by their
`model_type`), prefixed: rows, constant buffers, and the checks of recomputed or
tied tensors, which run on the sub-model with the prefix removed.
"""

import dataclasses
import re

from tfmodels.converters.buffers import BufferCheck
from tfmodels.converters.mapping import WeightTable, prefixed, resolve_variable
from tfmodels.converters.registry import register_weight_table, weight_table_for


@dataclasses.dataclass(frozen=True)
class PrefixedCheck(BufferCheck):
    """A sub-model's `BufferCheck`, for its keys under `prefix.` in a composite checkpoint.

    Attributes:
        inner: the sub-model's check.
        prefix: the keys' prefix (`"rag.generator"`).
        keras_path: where the sub-model is inside the composite model.
    """

    inner: BufferCheck = None
    prefix: str = ""
    keras_path: str = ""

    def matches(self, key):
        return key.startswith(self.prefix + ".") and self.inner.matches(key[len(self.prefix) + 1:])

    def max_difference(self, model, key, array):
        return self.inner.max_difference(resolve_variable(model, self.keras_path), key[len(self.prefix) + 1:], array)


_ANCHOR = re.compile(r"(?<![\\\[])\^")  # a `^` that is neither escaped nor a class negation


def _prefix_patterns(patterns, prefix):
    """Regexes of a sub-model's keys, for the same keys under `prefix.`: `re.search` of the result on
    `prefix.key` matches as the sub-model's pattern on `key` (each `^` anchor becomes "just after the prefix")."""
    escaped = re.escape(prefix + ".")
    anchored = f"(?<=^{escaped})"
    return tuple("^" + escaped + ".*?(?:" + _ANCHOR.sub(lambda m: anchored, p) + ")" for p in patterns)


def sub_model_table(sub_model, hf_prefix, keras_path):
    """The sub-model's own `WeightTable`, with its keys under `hf_prefix.` and its variables under `keras_path`."""
    table = weight_table_for(sub_model)
    params = [dataclasses.replace(p, hf_key=f"{hf_prefix}.{p.hf_key}", keras_path=f"{keras_path}.{p.keras_path}",
                                  aliases=tuple(f"{hf_prefix}.{a}" for a in p.aliases)) for p in table.params]
    checks = tuple(PrefixedCheck(f"^{re.escape(hf_prefix)}\\.", None, c.description, c.atol, inner=c,
                                 prefix=hf_prefix, keras_path=keras_path) for c in table.checks)
    return dict(params=params, checks=checks,
                buffers={f"{hf_prefix}.{k}": v for k, v in table.buffers.items()},
                ignored_keys=_prefix_patterns(table.ignored_keys, hf_prefix),
                other_head_keys=_prefix_patterns(table.other_head_keys, hf_prefix))


@register_weight_table("rag")
def rag_table(model):
    is_head = hasattr(model, "rag")
    rag = model.rag if is_head else model
    base = "rag." if is_head else ""
    parts = [sub_model_table(rag.question_encoder, f"{base}question_encoder", f"{base}question_encoder"),
             sub_model_table(rag.generator, f"{base}generator", f"{base}generator")]
    return WeightTable(
        params=[p for part in parts for p in part["params"]],
        checks=tuple(c for part in parts for c in part["checks"]),
        ignored_keys=tuple(k for part in parts for k in part["ignored_keys"]),
        other_head_keys=tuple(k for part in parts for k in part["other_head_keys"]),
        buffers={k: v for part in parts for k, v in part["buffers"].items()},
        base_model_prefix="rag",  # a RagModel checkpoint loads into the heads and back, as in transformers
        is_head_model=is_head,
        tf_renames=tf_generator_renames(weight_table_for(rag.generator), f"{base}generator"),
    )


def tf_generator_renames(generator_table, prefix):
    """`WeightTable.tf_renames` of a legacy TF RAG checkpoint: a generator variable with a one-level TF name
    (TF BART's `final_logits_bias:0`) translates to its bare key (`final_logits_bias`), which in the RAG model
    is `prefix.final_logits_bias`."""
    return tuple((f"^{re.escape(p.hf_key)}$", f"{prefix}.{p.hf_key}") for p in generator_table.params
                 if "." not in p.hf_key)
