"""`token-classification` (alias `ner`): per-token labels, optionally grouped into entities.

Reference: `transformers.pipelines.token_classification` (v5.24): the same
aggregation strategies, subword detection from the fast tokenizer's offsets,
`B-`/`I-` grouping and overlap resolution for `stride` windows.
"""

import numpy as np

from tfmodels.pipelines.base import Pipeline, chunks_from_encoding, softmax
from tfmodels.pipelines.text import label_of, model_config

STRATEGIES = ("none", "simple", "first", "average", "max")


class TokenClassificationPipeline(Pipeline):
    """Labels every token of a text with a `*ForTokenClassification` model.

    Parameters: `aggregation_strategy` (`"none"`: one result per token, with
    its `index`; `"simple"`: adjacent tokens with the same tag grouped into
    entities; `"first"`, `"average"`, `"max"`: words first take the label of
    their first token / of the averaged scores / of the most confident token,
    then are grouped), `ignore_labels` (default `["O"]`), `stride` (long texts
    are split into overlapping windows of `model_max_length`; needs an
    aggregation strategy other than `"none"`), `is_split_into_words` with
    `delimiter` (pre-split words in, offsets in the joined text).

    Returns:
        per input, a list of dicts: `entity` (or `entity_group` when
        aggregated), `score` (numpy float32), `word`, `start`, `end` (character
        offsets in the input, from the fast tokenizer), and `index` without
        aggregation.

    Raises:
        ValueError: unknown strategy; word-level strategies or `stride` with a
            slow tokenizer; `stride` with `"none"`.
    """

    default_task = "token-classification"

    def _sanitize_parameters(self, ignore_labels=None, aggregation_strategy=None, offset_mapping=None,
                             is_split_into_words=False, stride=None, delimiter=None):
        pre = {"is_split_into_words": is_split_into_words}
        if is_split_into_words:
            pre["delimiter"] = " " if delimiter is None else delimiter
        if offset_mapping is not None:
            pre["offset_mapping"] = offset_mapping
        post = {}
        if aggregation_strategy is not None:
            strategy = getattr(aggregation_strategy, "value", aggregation_strategy)
            strategy = str(strategy).lower()
            if strategy not in STRATEGIES:
                raise ValueError(f"aggregation_strategy must be one of {list(STRATEGIES)}. "
                                 f"Received: aggregation_strategy={aggregation_strategy!r}")
            if strategy in ("first", "average", "max") and not self.tokenizer.is_fast:
                raise ValueError('Slow tokenizers cannot handle subwords: use aggregation_strategy="simple" or a '
                                 'fast tokenizer.')
            post["aggregation_strategy"] = strategy
        if ignore_labels is not None:
            post["ignore_labels"] = ignore_labels
        if stride is not None:
            if stride >= self.tokenizer.model_max_length:
                raise ValueError("`stride` must be less than `tokenizer.model_max_length`.")
            if post.get("aggregation_strategy", "none") == "none":
                raise ValueError('`stride` splits the text into windows, which needs aggregation_strategy other '
                                 'than "none" (e.g. "simple").')
            if not self.tokenizer.is_fast:
                raise ValueError("`stride` needs a fast tokenizer.")
            pre["tokenizer_params"] = {"return_overflowing_tokens": True, "padding": True, "stride": stride}
        return pre, {}, post

    def __call__(self, inputs, **kwargs):
        split = kwargs.get("is_split_into_words", self._init_params[0].get("is_split_into_words", False))
        if split and isinstance(inputs, list) and not all(isinstance(i, list) for i in inputs):
            return super().__call__([inputs], **kwargs)
        if isinstance(inputs, list) and not split and not all(isinstance(i, str) for i in inputs):
            raise ValueError("token-classification takes a string or a list of strings (pre-split words need "
                             "is_split_into_words=True).")
        return super().__call__(inputs, **kwargs)

    def preprocess(self, sentence, offset_mapping=None, is_split_into_words=False, delimiter=None,
                   tokenizer_params=None):
        tokenizer_params = dict(tokenizer_params or {})
        word_to_chars = None
        if is_split_into_words:
            if not isinstance(sentence, list):
                raise ValueError("With is_split_into_words=True, each input must be a list of words.")
            words, sentence, word_to_chars, position = sentence, delimiter.join(sentence), [], 0
            for word in words:
                word_to_chars.append((position, position + len(word)))
                position += len(word) + len(delimiter)
            text, tokenizer_params["is_split_into_words"] = words, True
        elif not isinstance(sentence, str):
            raise ValueError(f"token-classification inputs must be strings. Received: {type(sentence).__name__}")
        else:
            text = sentence
        max_length = self.tokenizer.model_max_length
        encoding = self.tokenizer(text, return_tensors="np", truncation=bool(max_length and max_length > 0),
                                  return_special_tokens_mask=True, return_offsets_mapping=self.tokenizer.is_fast,
                                  **tokenizer_params)
        chunks = chunks_from_encoding(encoding)
        for i, chunk in enumerate(chunks):
            chunk["sentence"] = sentence
            if offset_mapping is not None:
                chunk["given_offsets"] = offset_mapping
            if word_to_chars is not None:
                chunk["word_ids"] = encoding.word_ids(i)
                chunk["word_to_chars"] = word_to_chars
        return chunks

    def postprocess(self, chunk_outputs, aggregation_strategy="none", ignore_labels=None):
        ignore_labels = ["O"] if ignore_labels is None else ignore_labels
        config = model_config(self.model)
        entities = []
        for output in chunk_outputs:
            scores = softmax(output["logits"].astype(np.float32))
            offsets = output.get("given_offsets", output.get("offset_mapping"))
            pre_entities = self._pre_entities(output["sentence"], output["input_ids"], scores, offsets,
                                              output["special_tokens_mask"], output.get("word_ids"),
                                              output.get("word_to_chars"))
            for entity in self._aggregate(pre_entities, aggregation_strategy, config):
                if entity.get("entity") not in ignore_labels and entity.get("entity_group") not in ignore_labels:
                    entities.append(entity)
        if len(chunk_outputs) > 1:
            entities = _resolve_overlaps(entities)
        return entities

    def _pre_entities(self, sentence, input_ids, scores, offsets, special_tokens_mask, word_ids, word_to_chars):
        wordpiece = getattr(getattr(getattr(self.tokenizer, "_tokenizer", None), "model", None),
                            "continuing_subword_prefix", None)
        pre_entities = []
        for index, token_scores in enumerate(scores):
            if special_tokens_mask[index]:
                continue
            word = self.tokenizer.convert_ids_to_tokens(int(input_ids[index]))
            if offsets is not None:
                start, end = (int(x) for x in offsets[index])
                if word_ids is not None and word_to_chars is not None and word_ids[index] is not None:
                    shift = word_to_chars[word_ids[index]][0]
                    start, end = start + shift, end + shift
                word_ref = sentence[start:end]
                if wordpiece:
                    is_subword = len(word) != len(word_ref)
                else:  # the reference's fallback heuristic for tokenizers without a subword prefix
                    is_subword = start > 0 and " " not in sentence[start - 1: start + 1]
                if int(input_ids[index]) == self.tokenizer.unk_token_id:
                    word, is_subword = word_ref, False
            else:
                start = end = None
                is_subword = False
            pre_entities.append({"word": word, "scores": token_scores, "start": start, "end": end,
                                 "index": index, "is_subword": is_subword})
        return pre_entities

    def _aggregate(self, pre_entities, strategy, config):
        if strategy in ("none", "simple"):
            entities = []
            for pre in pre_entities:
                best = pre["scores"].argmax()
                entities.append({"entity": label_of(config, best), "score": pre["scores"][best],
                                 "index": pre["index"], "word": pre["word"], "start": pre["start"],
                                 "end": pre["end"]})
        else:
            entities = self._aggregate_words(pre_entities, strategy, config)
        return entities if strategy == "none" else self._group_entities(entities)

    def _aggregate_word(self, entities, strategy, config):
        word = self.tokenizer.convert_tokens_to_string([e["word"] for e in entities])
        if strategy == "first":
            scores = entities[0]["scores"]
        elif strategy == "max":
            scores = max(entities, key=lambda e: e["scores"].max())["scores"]
        else:  # average
            scores = np.nanmean(np.stack([e["scores"] for e in entities]), axis=0)
        best = scores.argmax()
        return {"entity": label_of(config, best), "score": scores[best], "word": word,
                "start": entities[0]["start"], "end": entities[-1]["end"]}

    def _aggregate_words(self, entities, strategy, config):
        words, group = [], None
        for entity in entities:
            if group is None:
                group = [entity]
            elif entity["is_subword"]:
                group.append(entity)
            else:
                words.append(self._aggregate_word(group, strategy, config))
                group = [entity]
        if group is not None:
            words.append(self._aggregate_word(group, strategy, config))
        return words

    def _group(self, entities):
        return {"entity_group": entities[0]["entity"].split("-", 1)[-1],
                "score": np.mean(np.nanmean([e["score"] for e in entities])),
                "word": self.tokenizer.convert_tokens_to_string([e["word"] for e in entities]),
                "start": entities[0]["start"], "end": entities[-1]["end"]}

    def _group_entities(self, entities):
        groups, current = [], []
        for entity in entities:
            if current:
                bi, tag = _tag(entity["entity"])
                if tag == _tag(current[-1]["entity"])[1] and bi != "B":
                    current.append(entity)
                    continue
                groups.append(self._group(current))
            current = [entity]
        if current:
            groups.append(self._group(current))
        return groups


def _tag(name):
    """`(B or I, tag)` of a label: `B-PER` -> `("B", "PER")`; a label without prefix counts as `I`."""
    if name.startswith(("B-", "I-")):
        return name[0], name[2:]
    return "I", name


def _resolve_overlaps(entities):
    """Of entities overlapping across `stride` windows, keeps the longest (then the highest score)."""
    if not entities:
        return entities
    entities = sorted(entities, key=lambda e: e["start"])
    kept, previous = [], entities[0]
    for entity in entities:
        if previous["start"] <= entity["start"] < previous["end"]:
            length, previous_length = entity["end"] - entity["start"], previous["end"] - previous["start"]
            if length > previous_length or (length == previous_length and entity["score"] > previous["score"]):
                previous = entity
        else:
            kept.append(previous)
            previous = entity
    kept.append(previous)
    return kept
