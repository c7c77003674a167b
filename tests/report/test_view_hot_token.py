"""Where the FIRE hot token lies in a response, FIRE settings from results configs, offline decoding."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lm_eval_tts.report.view.hot_token import (
    fire_setting,
    hot_span,
    hot_token_id,
    line_start,
    load_decoder,
    tokenizer_source,
    utf16_index,
)


@pytest.mark.parametrize("text, token, line, span", [
    (" The answer", " The", 1, (0, 4)),
    ("Let me\n Now we", " Now", 2, (7, 11)),
    ("a\nb\nc", "c", 3, (4, 5)),
    ("The answer", " The", 1, (0, 3)),  # a tokenizer that writes the leading space the text does not have
    ("\u00e9t\u00e9", "\ufffd", 1, (0, 0)),  # a token that splits a character: position only
    ("one line", "x", 1, (0, 0)),
    ("one line", None, 2, None),  # no line 2: the response ended before the hot position
    ("line\n", None, 2, (5, 5)),
])
def test_hot_span(text, token, line, span):
    assert hot_span(text, token, line) == span


@given(st.lists(st.text(alphabet="ab \n", max_size=6), max_size=5), st.integers(1, 6))
def test_line_start_is_after_the_right_newline(parts, line):
    text = "".join(parts)
    start = line_start(text, line)
    if text.count("\n") < line - 1:
        assert start is None
    else:
        assert text[:start].count("\n") == line - 1 and (start == 0 or text[start - 1] == "\n")


@given(st.text(max_size=20), st.data())
def test_utf16_index_matches_javascript_string_indices(text, data):
    index = data.draw(st.integers(0, len(text)))
    assert utf16_index(text, index) == len(text[:index].encode("utf-16-le")) // 2


def test_hot_token_id_from_the_record():
    assert hot_token_id({"hot_token_id": 7, "first_token": 3}, line=2) == 7
    assert hot_token_id({"first_token": 3}, line=1) == 3
    assert hot_token_id({"first_token": 3}, line=2) is None  # line N's token is not the first one
    assert hot_token_id({"first_token": True}, line=1) is None


def test_fire_setting_from_wise_fire_record_or_model_args():
    assert fire_setting({"wise_fire": {"fire": {"temperature": 30.0, "top_k": 16, "line": 3}}}).line == 3
    assert fire_setting({"wise_fire": {"fire": None}, "model_args": {"fire": True}}) is None
    assert fire_setting({"model_args": "pretrained=x,fire=True,fire_at=line:2"}).line == 2
    assert fire_setting({"model_args": {"fire": "False"}}) is None
    assert fire_setting({}) is None


def test_tokenizer_source_prefers_the_recorded_checkpoint(tmp_path, monkeypatch):
    monkeypatch.setenv("LM_EVAL_TTS_CACHE", str(tmp_path))
    assert tokenizer_source({"wise_fire": {"checkpoints": ["/late", "/early"]},
                             "model_args": {"pretrained": "other"}}) == "/late"
    assert tokenizer_source({"model_args": "pretrained=/ckpt"}) == "/ckpt"
    assert tokenizer_source({"model_args": {"pretrained": "smollm2-135m-instruct"}}) == str(
        tmp_path / "models" / "smollm2-135m-instruct")
    assert tokenizer_source({}) is None


def test_decoder_reads_tokenizer_json(tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers, decoders

    tokenizer = Tokenizer(models.WordLevel({"hello": 0, "world": 1, "[UNK]": 2}, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.decoder = decoders.WordPiece()
    tokenizer.save(str(tmp_path / "tokenizer.json"))
    assert load_decoder(str(tmp_path))([0, 1, 0]) == {0: "hello", 1: "world"}


def test_decoder_missing_warns_once_and_returns_none(tmp_path, caplog):
    (tmp_path / "config.json").write_text(json.dumps({}))
    assert load_decoder(str(tmp_path / "nowhere")) is None
    assert "hot tokens shown as ids" in caplog.text and "--tokenizer" in caplog.text
