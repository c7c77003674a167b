"""Where FIRE's hot token lies in a response, and its text.

A FIRE run (results `config.wise_fire.fire` = {temperature, top_k, line}) draws the first token of line N hot.
The grading records carry token ids (`hot_token_id`, which the *_tts tasks log for every FIRE sample that reached
line N; for other records `first_token`, which is the hot token for line 1); their text comes from `hot_token_text` when a record has it, else from decoding the id with
the run's tokenizer (its checkpoint dir, offline). The response text holds that token at the start of line N,
so the span to highlight is found there; when the text does not start with the decoded token (a token that
splits a character, a tokenizer that drops a leading space) only the position is marked.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from lm_eval_tts.cache_dir import cache_root
from lm_eval_tts.models.embedded import EMBEDDED_NAME
from lm_eval_tts.report.results import parse_model_args
from lm_eval_tts.sampling.fire import FireParams, parse_fire_at

log = logging.getLogger(__name__)

HOT_ID_KEYS = ("hot_token_id", "hot_token")
HOT_TEXT_KEY = "hot_token_text"
TRUE_STRINGS = ("true", "1", "yes")
TOKENIZER_FILE = "tokenizer.json"

Decoder = Callable[[Iterable[int]], dict[int, str]]


def fire_setting(config: Mapping[str, Any]) -> FireParams | None:
    """FIRE's parameters from a results file's `config` (wise_fire's own record, else the model_args)."""
    wise_fire = config.get("wise_fire")
    if isinstance(wise_fire, dict) and "fire" in wise_fire:
        fire = wise_fire["fire"]
        if not isinstance(fire, dict):
            return None
        return FireParams(float(fire.get("temperature", 30.0)), int(fire.get("top_k", 16)), int(fire.get("line", 1)))
    args = parse_model_args(config.get("model_args"))
    if str(args.get("fire", "")).strip().lower() not in TRUE_STRINGS:
        return None
    return FireParams(float(args.get("fire_temperature", 30.0)), int(args.get("fire_top_k", 16)),
                      parse_fire_at(args.get("fire_at")))


def hot_token_id(record: Mapping[str, Any], line: int) -> int | None:
    for key in HOT_ID_KEYS:
        if isinstance(record.get(key), int):
            return record[key]
    first = record.get("first_token")
    return first if line == 1 and isinstance(first, int) and not isinstance(first, bool) else None


def line_start(text: str, line: int) -> int | None:
    """Index of the first character of line `line` (1-based); None when the text has fewer lines."""
    position = 0
    for _ in range(line - 1):
        newline = text.find("\n", position)
        if newline < 0:
            return None
        position = newline + 1
    return position


def hot_span(text: str, token_text: str | None, line: int) -> tuple[int, int] | None:
    """(start, end) character offsets of the hot token in the response; start == end marks its position only.

    None when the response has no line `line` (it ended before the hot position).
    """
    start = line_start(text, line)
    if start is None:
        return None
    if token_text:
        if text.startswith(token_text, start):
            return start, start + len(token_text)
        stripped = token_text.strip()
        lead = len(text[start:]) - len(text[start:].lstrip())
        if stripped and text.startswith(stripped, start + lead):
            return start + lead, start + lead + len(stripped)
    return start, start


def utf16_index(text: str, index: int) -> int:
    """A Python (code point) index as the UTF-16 index JavaScript strings use."""
    return index + sum(1 for ch in text[:index] if ord(ch) > 0xFFFF)


def tokenizer_source(config: Mapping[str, Any]) -> str | None:
    """The run's tokenizer: the first checkpoint wise_fire records (config and tokenizer come from it), else
    model_args.pretrained; the bundled model by its converted dir."""
    wise_fire = config.get("wise_fire")
    checkpoints = wise_fire.get("checkpoints") if isinstance(wise_fire, dict) else None
    args = parse_model_args(config.get("model_args"))
    source = checkpoints[0] if isinstance(checkpoints, list) and checkpoints else args.get("pretrained")
    if source == EMBEDDED_NAME:
        return str(cache_root() / "models" / EMBEDDED_NAME)
    return str(source) if source else None


def load_decoder(source: str) -> Decoder | None:
    """id -> text for a tokenizer loaded offline from `source`; None (and one warning) if it cannot be loaded.

    A checkpoint dir with tokenizer.json is read by `tokenizers` itself (0.1 s, where transformers' import
    costs seconds); anything else goes through transformers' AutoTokenizer.
    """
    try:
        if Path(source).is_absolute() and not Path(source).exists():
            raise FileNotFoundError(f"no such directory {source}")
        if (Path(source) / TOKENIZER_FILE).is_file():
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_file(str(Path(source) / TOKENIZER_FILE))
        else:
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True)
    except Exception as err:  # noqa: BLE001 - any failure means: show ids instead of text
        log.warning("hot tokens shown as ids: no tokenizer loadable offline from %s (%s); pass --tokenizer DIR",
                    source, str(err).splitlines()[0] if str(err) else type(err).__name__)
        return None

    def decode(ids: Iterable[int]) -> dict[int, str]:
        return {i: tokenizer.decode([i], skip_special_tokens=False) for i in set(ids)}

    return decode
