"""The study tokenizer: byte-level BPE trained on the union of a study's corpora (DESIGN §7).

Used by: xstage tokenizer train, and xstage train (which trains the study's one on first use).
One tokenizer per study, never per mixture: a per-mixture vocabulary would confound per-token
scores with the mixture effect. Saved as a PreTrainedTokenizerFast with a chat template.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from training.lake_data import read_documents

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

log = logging.getLogger(__name__)

EOS = "<|endoftext|>"
ROLES = ("system", "user", "assistant")
ROLE_TOKENS = tuple(f"<|{role}|>" for role in ROLES)
SPECIAL_TOKENS = (EOS, *ROLE_TOKENS)
META_FILE = "xstage_tokenizer.json"

# Tulu-v2 style: "<|user|>\n{content}\n<|assistant|>\n{content}<|endoftext|>\n". Real newlines
# sit inside the Jinja string literals; render_chat() below produces exactly the same string.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>\n' + message['content'] }}"
    "{% if message['role'] == 'assistant' %}{{ eos_token }}{% endif %}"
    "{{ '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}"
)


def render_chat(messages: list[dict[str, str]], eos_token: str = EOS) -> tuple[str, list[tuple]]:
    """The chat template in Python: (text, [(start, end)] char spans that carry the loss).

    A span covers an assistant message's content and its end-of-sequence token.
    """
    parts: list[str] = []
    spans: list[tuple[int, int]] = []
    offset = 0
    for index, message in enumerate(messages):
        role, content = message["role"], message["content"]
        if role not in ROLES:
            raise ValueError(f"message {index}: role {role!r} is not one of {ROLES}")
        header = f"<|{role}|>\n"
        body = content + (eos_token if role == "assistant" else "")
        if role == "assistant":
            spans.append((offset + len(header), offset + len(header) + len(body)))
        piece = header + body + "\n"
        parts.append(piece)
        offset += len(piece)
    return "".join(parts), spans


def _train_bpe(texts: list[str], vocab_size: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer, length=len(texts))
    return tokenizer


def wrap(tokenizer_object) -> PreTrainedTokenizerFast:
    """A transformers tokenizer around a `tokenizers` BPE, with our specials and chat template."""
    from transformers import PreTrainedTokenizerFast

    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer_object,
        bos_token=EOS,
        eos_token=EOS,
        pad_token=EOS,
        additional_special_tokens=list(ROLE_TOKENS),
        clean_up_tokenization_spaces=False,
    )
    wrapped.chat_template = CHAT_TEMPLATE
    return wrapped


def train_study_tokenizer(
    corpora: list[str],
    vocab_size: int,
    out_dir: Path,
    max_docs: int | None = None,
    overwrite: bool = False,
) -> Path:
    """Train the study's BPE on the union of `corpora` (lake documents) and save it to `out_dir`.

    A no-op when `out_dir` already holds a tokenizer trained with the same corpora, vocab size
    and document cap; a different one there is an error unless `overwrite`. Written to a temp
    dir and renamed, so a crash never leaves a half-saved tokenizer. Returns `out_dir`.
    """
    out_dir = Path(out_dir)
    request = {"corpora": sorted(corpora), "vocab_size": vocab_size, "max_docs": max_docs}
    if (out_dir / META_FILE).is_file() and not overwrite:
        existing = json.loads((out_dir / META_FILE).read_text())["request"]
        if existing == request:
            return out_dir
        raise ValueError(
            f"{out_dir} holds a tokenizer trained with {existing}, not {request}; "
            "pass overwrite=True (--overwrite) or another --out"
        )
    texts: list[str] = []
    for corpus in sorted(corpora):
        texts.extend(read_documents(corpus, max_docs))
    log.info("training a %d-token BPE on %d documents of %s", vocab_size, len(texts), corpora)
    wrapped = wrap(_train_bpe(texts, vocab_size))
    meta = {"request": request, "n_docs": len(texts), "n_chars": sum(map(len, texts))}
    _save_atomically(wrapped, out_dir, meta)
    return out_dir


def _save_atomically(tokenizer: PreTrainedTokenizerFast, out_dir: Path, meta: dict) -> None:
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        tokenizer.save_pretrained(tmp)
        (tmp / META_FILE).write_text(json.dumps(meta, indent=2))
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def load_tokenizer(path: str | Path) -> PreTrainedTokenizerFast:
    """Load a tokenizer dir (or hub id); add our role tokens and chat template if it lacks them."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(path))
    if tokenizer.eos_token is None:
        raise ValueError(f"{path}: the tokenizer has no eos_token; documents need a separator")
    missing = [token for token in ROLE_TOKENS if token not in tokenizer.get_vocab()]
    if missing:
        tokenizer.add_special_tokens({"additional_special_tokens": missing})
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if not tokenizer.chat_template:
        tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def tokenizer_hash(tokenizer: PreTrainedTokenizerFast) -> str:
    """sha256 of the vocabulary, merges, specials and chat template: what encoding depends on."""
    digest = hashlib.sha256(tokenizer.backend_tokenizer.to_str().encode())
    digest.update((tokenizer.chat_template or "").encode())
    return digest.hexdigest()
