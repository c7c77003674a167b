"""Where line N starts in tokens: the newline table against decoding, and the incremental hot position."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from transformers import AutoTokenizer

from lm_eval_tts.sampling.lines import HotPosition, hot_index, newlines_per_token

TABLE = [0, 1, 2, 1, 0, 0]  # token 1 = "\n", 2 = "\n\n", 3 = "\n   " (line 2 starts inside it)


def test_newline_table_counts_what_decoding_shows(tiny_model_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    table = newlines_per_token(tokenizer, len(tokenizer) + 5)
    assert len(table) == len(tokenizer) + 5 and table[-5:] == [0] * 5  # padded vocabulary rows never count
    newline_ids = [t for t, count in enumerate(table) if count]
    assert len(newline_ids) > 10 and table[tokenizer.convert_tokens_to_ids("Ċ")] == 1
    rng = np.random.default_rng(7)
    for _ in range(50):
        ids = rng.permutation(rng.choice(len(tokenizer), size=30).tolist() + rng.choice(newline_ids, 5).tolist())
        assert tokenizer.decode(ids.tolist()).count("\n") == sum(table[t] for t in ids)


@pytest.mark.parametrize("ids, line, expected", [
    ([5, 1, 4, 1, 5], 1, 0),  # line 1: the first token
    ([5, 1, 4, 1, 5], 2, 2),  # the first token after the first newline
    ([5, 1, 4, 1, 5], 3, 4),
    ([5, 2, 4], 2, 2),  # "\n\n" passes the start of line 2 (and 3): the next token is hot
    ([5, 2, 4], 3, 2),
    ([3, 4], 2, 1),  # "\n   " starts line 2 inside itself: the first boundary after it
    ([5, 4, 4], 2, None),  # never reaches line 2
    ([5, 1], 2, None),  # reaches it, but the response ends right there
    ([], 1, None),
])
def test_hot_index(ids, line, expected):
    assert hot_index(ids, TABLE, line) == expected


@given(st.lists(st.integers(0, len(TABLE) - 1), max_size=40), st.integers(1, 6))
def test_feeding_token_by_token_agrees_with_counting_prefixes(ids, line):
    """Brute force: the hot position is the first i whose prefix ids[:i] holds >= line-1 newlines."""
    position = next((i for i in range(len(ids) + 1) if sum(TABLE[t] for t in ids[:i]) >= line - 1), None)
    tracker = HotPosition(line, TABLE)
    for i in range(len(ids) + 1):  # as an engine sees it: the response grows by one token per step
        tracker.catch_up(ids[:i])
    assert tracker.position == position
    assert hot_index(ids, TABLE, line) == (position if position is not None and position < len(ids) else None)


def test_catch_up_waits_at_a_placeholder_and_resumes_when_it_is_filled():
    tracker = HotPosition(2, TABLE)
    live = [5, -1]  # vLLM's async scheduler: the second token is not copied back yet
    assert tracker.catch_up(live) is None and tracker.seen == 1
    live[1] = 1
    assert tracker.catch_up(live) == 2


def test_each_token_is_looked_at_once():
    class CountingTable(list):
        lookups = 0

        def __getitem__(self, token):
            CountingTable.lookups += 1
            return super().__getitem__(token)

    tracker, ids = HotPosition(3, CountingTable(TABLE)), []
    for token in [5, 4, 1, 4, 4, 4, 1, 4, 4]:
        ids.append(token)
        tracker.catch_up(ids)
    assert tracker.position == 7 and CountingTable.lookups == 7  # no lookups once the position is known


def test_line_n_needs_a_table():
    with pytest.raises(ValueError, match="newline table"):
        HotPosition(2, None)
    assert HotPosition(1, None).position == 0
