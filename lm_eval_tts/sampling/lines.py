"""Where line N of a response starts, in tokens: the one rule both engines and the vLLM processor use.

The hot token of `fire_at=line:N` is the first token generated after the response contains N-1 newline
characters: output position 0 for line 1. Newlines are counted per token from a table built once per tokenizer
(`newlines_per_token`), which equals counting them in the decoded text for byte-level BPE and byte-fallback
tokenizers (a newline is one byte and never part of a multi-byte character). A token that holds a newline
followed by more text (e.g. "\\n   ") starts line N inside itself; the hot token is then the next one, the first
token boundary at or after the start of line N. A response that ends before that has no hot token.
"""

from __future__ import annotations

from typing import Sequence


def newlines_per_token(tokenizer, vocab_size: int) -> list[int]:
    """How many "\\n" each token id decodes to, for ids 0..vocab_size-1 (0 beyond the tokenizer, e.g. padding).

    Sized to the model's vocabulary so that any id a model can emit indexes it. Decoding ~50k single tokens
    takes a fraction of a second; callers build the table once and keep it.
    """
    known = min(len(tokenizer), vocab_size)
    return [tokenizer.decode([token]).count("\n") for token in range(known)] + [0] * (vocab_size - known)


class HotPosition:
    """Finds the hot position of one growing response, looking at each token once (O(1) per generated token).

    `position` is None until the response holds line - 1 newlines, then the output index of the hot token.
    """

    __slots__ = ("position", "seen", "_newlines_left", "_table")

    def __init__(self, line: int, newline_table: Sequence[int] | None):
        if line > 1 and newline_table is None:
            raise ValueError("FIRE at line > 1 needs a newline table (see newlines_per_token)")
        self.position: int | None = 0 if line == 1 else None
        self.seen = 0  # tokens looked at so far
        self._newlines_left = line - 1
        self._table = newline_table

    def feed(self, token: int) -> int | None:
        """Account for the response's next token; return the hot position once it is known."""
        if self.position is None:
            self.seen += 1
            self._newlines_left -= self._table[token]
            if self._newlines_left <= 0:
                self.position = self.seen
        return self.position

    def catch_up(self, token_ids: Sequence[int]) -> int | None:
        """Feed the tokens of `token_ids` (the whole response so far) not looked at yet, up to a placeholder
        (a negative id: vLLM's async scheduler holds the place of a token it has not copied back yet)."""
        while self.position is None and self.seen < len(token_ids) and token_ids[self.seen] >= 0:
            self.feed(token_ids[self.seen])
        return self.position


def hot_index(token_ids: Sequence[int], newline_table: Sequence[int] | None, line: int) -> int | None:
    """Output index of the hot token in a finished response; None if the response ended before it."""
    position = HotPosition(line, newline_table).catch_up(token_ids)
    return position if position is not None and position < len(token_ids) else None
