"""`question-answering`: extractive answers from a `*ForQuestionAnswering` model.

Reference: `transformers.pipelines.question_answering` of `transformers`
4.46.3 (the task was removed from `transformers` 5): the same span decoding
(`decode_spans`, `select_starts_ends`), long contexts split into overlapping
`doc_stride` windows by the fast tokenizer, answers aligned to words.
"""

import numpy as np

from tfmodels.pipelines.base import Pipeline


def decode_spans(start, end, top_k, max_answer_len, allowed):
    """The `top_k` best `(start, end)` token spans by `start_prob * end_prob`, `end - start < max_answer_len`.

    Args:
        start, end: float `(seq_len,)` probabilities.
        allowed: `(seq_len,)` 1 where a token may be part of an answer.

    Returns:
        `(starts, ends, scores)` arrays of the allowed spans among the best `top_k`, best first.
    """
    outer = np.matmul(start[None, :, None], end[None, None, :])  # (1, seq_len, seq_len)
    candidates = np.tril(np.triu(outer), max_answer_len - 1)
    flat = candidates.flatten()
    if top_k == 1:
        order = [np.argmax(flat)]
    elif len(flat) < top_k:
        order = np.argsort(-flat)
    else:
        idx = np.argpartition(-flat, top_k)[0:top_k]
        order = idx[np.argsort(-flat[idx])]
    starts, ends = np.unravel_index(order, candidates.shape)[1:]
    keep = np.isin(starts, allowed.nonzero()) & np.isin(ends, allowed.nonzero())
    starts, ends = starts[keep], ends[keep]
    return starts, ends, candidates[0, starts, ends]


def select_starts_ends(start, end, p_mask, attention_mask, min_null_score=1000000, top_k=1,
                       handle_impossible_answer=False, max_answer_len=15):
    """Softmax over the allowed tokens of one window, then `decode_spans`; tracks the null-answer score."""
    allowed = np.abs(np.asarray(p_mask) - 1)
    if attention_mask is not None:
        allowed = allowed & attention_mask
    start = np.where(allowed == 0, -10000.0, start)[None]
    end = np.where(allowed == 0, -10000.0, end)[None]
    start = np.exp(start - start.max(axis=-1, keepdims=True))
    start = start / start.sum()
    end = np.exp(end - end.max(axis=-1, keepdims=True))
    end = end / end.sum()
    if handle_impossible_answer:
        min_null_score = min(min_null_score, (start[0, 0] * end[0, 0]).item())
    start[0, 0] = end[0, 0] = 0.0
    starts, ends, scores = decode_spans(start[0], end[0], top_k, max_answer_len, allowed)
    return starts, ends, scores, min_null_score


def _examples(args, kwargs):
    """`(question, context)` pairs from the call forms `transformers` accepts; whether one was given."""
    if args:
        if len(args) == 2 and all(isinstance(a, str) for a in args):
            inputs = [{"question": args[0], "context": args[1]}]
        else:
            inputs = args[0] if len(args) == 1 else list(args)
    elif "question" in kwargs and "context" in kwargs:
        question, context = kwargs.pop("question"), kwargs.pop("context")
        if isinstance(question, list) and isinstance(context, str):
            inputs = [{"question": q, "context": context} for q in question]
        elif isinstance(question, list) and isinstance(context, list):
            if len(question) != len(context):
                raise ValueError(f"question and context must have the same length. Received {len(question)} "
                                 f"questions and {len(context)} contexts.")
            inputs = [{"question": q, "context": c} for q, c in zip(question, context)]
        elif isinstance(question, str) and isinstance(context, str):
            inputs = [{"question": question, "context": context}]
        else:
            raise ValueError("question and context must be strings or lists of strings.")
    else:
        raise ValueError("question-answering needs question= and context= (or {'question': ..., 'context': ...} "
                         f"dicts). Received keywords: {sorted(kwargs)}")
    if isinstance(inputs, dict):
        inputs = [inputs]
    inputs = list(inputs)
    for item in inputs:
        if not isinstance(item, dict) or "question" not in item or "context" not in item:
            raise ValueError(f"Each input must be a dict with 'question' and 'context'. Received: {item!r}")
        for key in ("question", "context"):
            if item[key] is None or (isinstance(item[key], str) and not item[key]):
                raise ValueError(f"`{key}` cannot be empty or None.")
    return inputs


class QuestionAnsweringPipeline(Pipeline):
    """Finds the answer to a question in a context: `qa(question=..., context=...)`.

    Inputs: `question=`/`context=` (strings, or lists: one context for many
    questions, or pairs), a `{"question", "context"}` dict, or a list of dicts.
    Parameters: `top_k` (default 1), `max_answer_len` (tokens, default 15),
    `handle_impossible_answer` (an empty answer competes), `doc_stride`
    (overlap of the windows of a long context; default `min(max_seq_len // 2, 128)`),
    `max_seq_len` (default `min(model_max_length, 384)`), `max_question_len`,
    `align_to_words` (default `True`), `padding`.

    Returns:
        per example, `{"score", "start", "end", "answer"}` (character offsets
        in the context), or a list of `top_k` such dicts best first; a list of
        examples gives one result per example.

    Raises:
        ValueError: malformed inputs, `top_k < 1`, `max_answer_len < 1`,
            `doc_stride > max_seq_len`, or a slow tokenizer (offsets need a fast one).
    """

    default_task = "question-answering"

    def _sanitize_parameters(self, padding=None, top_k=None, doc_stride=None, max_answer_len=None, max_seq_len=None,
                             max_question_len=None, handle_impossible_answer=None, align_to_words=None):
        pre = {k: v for k, v in dict(padding=padding, doc_stride=doc_stride, max_question_len=max_question_len,
                                     max_seq_len=max_seq_len).items() if v is not None}
        if top_k is not None and top_k < 1:
            raise ValueError(f"top_k must be >= 1. Received: top_k={top_k}")
        if max_answer_len is not None and max_answer_len < 1:
            raise ValueError(f"max_answer_len must be >= 1. Received: max_answer_len={max_answer_len}")
        post = {k: v for k, v in dict(top_k=top_k, max_answer_len=max_answer_len, align_to_words=align_to_words,
                                      handle_impossible_answer=handle_impossible_answer).items() if v is not None}
        return pre, {}, post

    def __call__(self, *args, **kwargs):
        examples = _examples(args, kwargs)
        if len(examples) == 1:
            return super().__call__(examples[0], **kwargs)
        return super().__call__(examples, **kwargs)

    def preprocess(self, example, padding="do_not_pad", doc_stride=None, max_question_len=64, max_seq_len=None):
        del max_question_len  # the fast-tokenizer path of the reference does not truncate the question either
        if not self.tokenizer.is_fast:
            raise ValueError("question-answering needs a fast tokenizer (for character offsets).")
        if max_seq_len is None:
            max_seq_len = min(self.tokenizer.model_max_length, 384)
        if doc_stride is None:
            doc_stride = min(max_seq_len // 2, 128)
        if doc_stride > max_seq_len:
            raise ValueError(f"doc_stride ({doc_stride}) is larger than max_seq_len ({max_seq_len}).")
        question_first = self.padding_side() == "right"
        question, context = example["question"], example["context"]
        encoding = self.tokenizer(
            text=question if question_first else context, text_pair=context if question_first else question,
            padding=padding, truncation="only_second" if question_first else "only_first", max_length=max_seq_len,
            stride=doc_stride, return_token_type_ids=True, return_overflowing_tokens=True,
            return_offsets_mapping=True, return_special_tokens_mask=True,
        )
        chunks = []
        for span in range(len(encoding["input_ids"])):
            # p_mask: 1 where a token cannot be in the answer (the question, special tokens), except [CLS].
            p_mask = [int(s != 1) if question_first else 0 for s in encoding.sequence_ids(span)]
            ids = np.asarray(encoding["input_ids"][span])
            if self.tokenizer.cls_token_id is not None:
                for cls_index in np.flatnonzero(ids == self.tokenizer.cls_token_id):
                    p_mask[cls_index] = 0
            chunk = {name: np.asarray(encoding[name][span]) for name in self.tokenizer.model_input_names
                     if name in encoding}
            chunk["token_type_ids"] = np.asarray(encoding["token_type_ids"][span])
            chunk.update(p_mask=np.asarray(p_mask), encoding=encoding[span], context=context)
            chunks.append(chunk)
        return chunks

    def model_inputs(self, batch):
        names = set(self.tokenizer.model_input_names) & set(getattr(self.model, "input_names", batch))
        return {k: v for k, v in batch.items() if k in names}

    def postprocess(self, chunk_outputs, top_k=1, handle_impossible_answer=False, max_answer_len=15,
                    align_to_words=True):
        min_null_score = 1000000
        answers = []
        question_first = self.padding_side() == "right"
        for output in chunk_outputs:
            starts, ends, scores, min_null_score = select_starts_ends(
                output["start_logits"], output["end_logits"], output["p_mask"], output.get("attention_mask"),
                min_null_score, top_k, handle_impossible_answer, max_answer_len,
            )
            offset = 0 if question_first else int((output["input_ids"] == self.tokenizer.pad_token_id).sum())
            for s, e, score in zip(starts, ends, scores):
                start, end = _char_span(output["encoding"], s - offset, e - offset, 1 if question_first else 0,
                                        align_to_words)
                answers.append({"score": score.item(), "start": start, "end": end,
                                "answer": output["context"][start:end]})
        if handle_impossible_answer:
            answers.append({"score": min_null_score, "start": 0, "end": 0, "answer": ""})
        answers = sorted(answers, key=lambda x: x["score"], reverse=True)[:top_k]
        return answers[0] if len(answers) == 1 else answers


def _char_span(encoding, start, end, sequence_index, align_to_words):
    """Character offsets of tokens `start..end` in the context, widened to whole words when asked."""
    if align_to_words:
        try:
            start_word, end_word = encoding.token_to_word(start), encoding.token_to_word(end)
            return (encoding.word_to_chars(start_word, sequence_index=sequence_index)[0],
                    encoding.word_to_chars(end_word, sequence_index=sequence_index)[1])
        except Exception:  # noqa: BLE001  (the reference falls back to token offsets on any failure)
            pass
    return encoding.offsets[start][0], encoding.offsets[end][1]
