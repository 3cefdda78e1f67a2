"""Training and validation text for the mini-ladder: reading the mirrored corpora, a fixed held-out split, our own
BPE tokenizer, and token arrays per recipe.

Documents and the split.  Each source is cut into *blocks* of whole lines (about 2,000 characters). Every
``heldout_every``-th block (2% by default) is held out; the others are training text, so validation text is
disjoint from training text by construction, and the split does not depend on the run seed. The held-out blocks of
all corpus sources form one validation shard shared by every recipe, so losses are comparable across runs.

BOS/EOS.  Training streams are ``block EOS block EOS …`` cut into ``seq_len`` windows. A validation *document* is
a held-out block cut into pieces of at most ``seq_len`` tokens; each piece is scored on its own with no prefix, so
its first token has no loss (it is stored as NaN and never counted).
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from neuneu.collect.config import NLTK_CORPORA, TEXT_SOURCES
from neuneu.sources import fetch

EOS = "<|endoftext|>"
BLOCK_CHARS = 2000


class TextError(ValueError):
    """A text source that cannot be read or a recipe that names an unknown source."""


def source_files(source: str) -> list[Path]:
    """Local paths of a registered source's files, fetched (sha256-verified) through :func:`neuneu.sources.fetch`.

    This is the one place the collector touches the data catalog."""
    return fetch([source], progress=False)[source]


def _nltk_zip(corpus: str) -> Path:
    for path in source_files("nltk-corpora"):
        if path.name == f"{corpus}.zip":
            return path
    raise TextError(f"nltk corpus {corpus!r} not found in source 'nltk-corpora'")


_BROWN_TAG = re.compile(r"(\S+)/\S+")
_NPS_USER = re.compile(r"\b\d+-\d+-\w*?User\d+\b")


def _brown_text(raw: str) -> str:
    words = _BROWN_TAG.sub(r"\1", raw)
    words = words.replace("``", '"').replace("''", '"')
    lines = [" ".join(line.split()) for line in words.splitlines()]
    return "\n".join(line for line in lines if line)


def _nps_text(raw: bytes) -> str:
    """Chat posts without XML, system messages (JOIN/PART) or the anonymised user-name tokens."""
    root = ET.fromstring(raw)
    posts = []
    for post in root.iter("Post"):
        if post.get("class") == "System":
            continue
        text = _NPS_USER.sub("", post.text or "")
        text = " ".join(text.split())
        if text:
            posts.append(text)
    return "\n".join(posts)


def read_source_texts(source: str) -> list[str]:
    """The plain-text documents of one corpus (one string per file), in a fixed (sorted) order."""
    if source == "tinyshakespeare":
        return [source_files("tinyshakespeare")[0].read_text(encoding="utf-8")]
    if source not in NLTK_CORPORA:
        raise TextError(f"unknown text source {source!r}; known: {', '.join(TEXT_SOURCES)}")
    texts = []
    with zipfile.ZipFile(_nltk_zip(source)) as zf:
        for name in sorted(zf.namelist()):
            base = name.rsplit("/", 1)[-1]
            if name.endswith("/") or base.upper().startswith("README") or base.startswith("."):
                continue
            if source == "brown" and not re.fullmatch(r"c[a-r]\d\d", base):
                continue  # cats.txt / CONTENTS are metadata
            raw = zf.read(name)
            if source == "nps_chat":
                if name.endswith(".xml"):
                    texts.append(_nps_text(raw))
                continue
            text = raw.decode("utf-8", errors="replace") if source != "brown" else raw.decode("latin-1")
            texts.append(_brown_text(text) if source == "brown" else text.replace("\r\n", "\n"))
    return [t for t in texts if t.strip()]


def text_blocks(texts: list[str], block_chars: int = BLOCK_CHARS) -> list[str]:
    """Cut documents into blocks of whole non-empty lines of about ``block_chars`` characters (never across docs)."""
    blocks: list[str] = []
    for text in texts:
        current: list[str] = []
        size = 0
        for line in text.splitlines():
            line = line.strip()
            if not line:
                continue
            current.append(line)
            size += len(line) + 1
            if size >= block_chars:
                blocks.append("\n".join(current))
                current, size = [], 0
        if current:
            blocks.append("\n".join(current))
    return blocks


@dataclass(frozen=True)
class SplitText:
    """Training and held-out blocks of one source."""

    train: list[str]
    heldout: list[str]


def split_blocks(blocks: list[str], every: int, offset: int = 0) -> SplitText:
    """Hold out blocks ``offset, offset + every, …`` (a fixed, seed-free rule) and train on the rest."""
    if every < 2:
        raise TextError(f"heldout_every must be >= 2, got {every}")
    start = offset % every
    heldout = [b for i, b in enumerate(blocks) if i % every == start]
    train = [b for i, b in enumerate(blocks) if i % every != start]
    return SplitText(train=train, heldout=heldout)


def load_split(sources: tuple[str, ...], every: int, split_seed: int) -> dict[str, SplitText]:
    """The fixed train/held-out split of each source (``split_seed`` only shifts which block of each 50 is out)."""
    out = {}
    for i, source in enumerate(sources):
        out[source] = split_blocks(text_blocks(read_source_texts(source)), every, offset=split_seed + 7 * i)
    return out


def train_tokenizer(texts: list[str], vocab_size: int, path: Path):
    """Train a byte-level BPE tokenizer on ``texts`` and save it as a transformers tokenizer directory at ``path``.

    The single special token ``<|endoftext|>`` is EOS, BOS and padding at once (padding is always masked)."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import PreTrainedTokenizerFast

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(texts, vocab_size=vocab_size, min_frequency=2, special_tokens=[EOS], show_progress=False)
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token=EOS, bos_token=EOS, pad_token=EOS)
    tok.save_pretrained(str(path))
    return tok


def encode_blocks(tokenizer, blocks: list[str]) -> list[np.ndarray]:
    """Token ids of each block (no special tokens added)."""
    if not blocks:
        return []
    ids = tokenizer(blocks, add_special_tokens=False)["input_ids"]
    return [np.asarray(x, dtype=np.int32) for x in ids]


def training_stream(tokenizer, blocks: list[str]) -> np.ndarray:
    """``block EOS block EOS …`` as one int32 array: the stream the training windows are cut from."""
    eos = np.asarray([tokenizer.eos_token_id], dtype=np.int32)
    parts = []
    for ids in encode_blocks(tokenizer, blocks):
        parts.append(ids)
        parts.append(eos)
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int32)


def validation_documents(tokenizer, blocks: list[str], seq_len: int, max_tokens: int) -> tuple[np.ndarray, np.ndarray]:
    """The validation shard as (flat token ids, document offsets of length D+1).

    Held-out blocks are cut into pieces of at most ``seq_len`` tokens (pieces under 2 tokens are dropped, since
    they have nothing to score); documents are taken in order until ``max_tokens`` is reached."""
    docs: list[np.ndarray] = []
    total = 0
    for ids in encode_blocks(tokenizer, blocks):
        for start in range(0, len(ids), seq_len):
            piece = ids[start : start + seq_len]
            if len(piece) < 2:
                continue
            if total + len(piece) > max_tokens:
                break
            docs.append(piece)
            total += len(piece)
        if total >= max_tokens - 1:
            break
    offsets = np.zeros(len(docs) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(d) for d in docs])
    tokens = np.concatenate(docs).astype(np.int32) if docs else np.zeros(0, dtype=np.int32)
    return tokens, offsets


def interleave(blocks_by_source: dict[str, list[str]]) -> list[str]:
    """Round-robin the sources' blocks so a capped validation shard still covers every source."""
    out: list[str] = []
    lists = list(blocks_by_source.values())
    for i in range(max((len(x) for x in lists), default=0)):
        out.extend(x[i] for x in lists if i < len(x))
    return out


def read_blimp(n_pairs: int, n_paradigms: int | None = None) -> dict[str, list[dict]]:
    """BLiMP minimal pairs: paradigm -> first ``n_pairs`` records (sentence_good, sentence_bad), paradigms sorted."""
    files = sorted(source_files("blimp"), key=lambda p: p.name)
    if n_paradigms is not None:
        files = files[:n_paradigms]
    out = {}
    for path in files:
        with open(path, encoding="utf-8") as fh:
            rows = [json.loads(line) for _, line in zip(range(n_pairs), fh)]
        out[path.stem] = [{"sentence_good": r["sentence_good"], "sentence_bad": r["sentence_bad"]} for r in rows]
    return out


@dataclass
class Prepared:
    """Text, tokenizer and BLiMP pairs shared by every run of a collection (built once by the pipeline)."""

    tokenizer: object
    val_tokens: np.ndarray
    val_offsets: np.ndarray
    streams: dict[str, np.ndarray]
    blimp: dict[str, list[dict]]
    sample_index: np.ndarray  # fixed positions (into val_tokens) of the per-token loss subsample
