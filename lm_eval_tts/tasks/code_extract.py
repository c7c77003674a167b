"""Pull the program out of a model response: markdown fences, chat prose around code, or plain code.

Rules, in order (each a pure function of the text, so they are tested as tables):
1. A closed `<think>...</think>` section is dropped (reasoning models put scratch code there).
2. Few-shot MBPP markers: text after `[DONE]` is dropped, a leading `[BEGIN]` is dropped.
3. Fenced blocks (``` or ~~~, any info string; an unterminated last fence runs to the end, as when the model hit
   its token limit). Blocks tagged with a non-Python language (text, bash, output, ...) are ignored. Among the
   rest, the ones that define the wanted entry point (`def name` or `class name`) win; of those, the last one that
   parses as Python is taken (answers often show a draft and then the fix; LiveCodeBench's own extraction also
   takes the last block). If no block parses, the last candidate is taken so the grader reports a syntax error.
4. No fences: the text from the first line that starts like code (def/class/import/from/@, or a statement) to
   the last line that keeps it parsable; trailing and leading prose is dropped.
"""

from __future__ import annotations

import ast
import re
import warnings

_PYTHON_TAGS = {"", "python", "python3", "py", "py3", "python 3", "pycon", "ipython"}

_FENCE_OPEN = re.compile(r"^[ \t]*(```+|~~~+)[ \t]*([^\n`]*)$", re.MULTILINE)

_CODE_START = re.compile(
    r"^(def |async def |class |import |from \S+ import |@|if __name__|for |while |with |try:|"
    r"[A-Za-z_][A-Za-z0-9_]*(\s*,\s*[A-Za-z_][A-Za-z0-9_]*)*\s*(=|\+=|-=)|print\(|input\(|sys\.)"
)


_MAX_STARTS = 3  # prose rarely hides more than a couple of false code starts; bounds the quadratic search


def parse_quietly(code: str) -> ast.Module:
    """ast.parse without the SyntaxWarnings (e.g. invalid escapes) that model and dataset code often trigger."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ast.parse(code)


def parses(code: str) -> bool:
    """True if `code` is syntactically valid Python (compiling is not running)."""
    try:
        parse_quietly(code)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return False
    return True


def strip_reasoning(text: str) -> str:
    """Drop everything up to a closing `</think>`; an unclosed `<think>` is kept (it may hold the only code)."""
    end = text.rfind("</think>")
    return text[end + len("</think>") :] if end != -1 else text


def strip_fewshot_markers(text: str) -> str:
    """MBPP few-shot format: the program sits between `[BEGIN]` and `[DONE]`."""
    done = text.find("[DONE]")
    if done != -1:
        text = text[:done]
    stripped = text.lstrip()
    if stripped.startswith("[BEGIN]"):
        text = stripped[len("[BEGIN]") :]
    return text


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """(language tag, body) of every fenced block in order; an unterminated last fence runs to the end."""
    blocks = []
    pos = 0
    while True:
        opening = _FENCE_OPEN.search(text, pos)
        if opening is None:
            return blocks
        fence, tag = opening.group(1), opening.group(2).strip().lower()
        body_start = opening.end() + 1
        closing = re.compile(r"^[ \t]*" + re.escape(fence[0]) + "{" + str(len(fence)) + r",}[ \t]*$", re.MULTILINE)
        close = closing.search(text, body_start) if body_start <= len(text) else None
        if close is None:
            blocks.append((tag, text[body_start:]))
            return blocks
        blocks.append((tag, text[body_start : close.start()].rstrip("\n")))
        pos = close.end()


def defines(code: str, name: str) -> bool:
    """True if `code` defines a function or class called `name` at any indentation."""
    return re.search(rf"^\s*(async\s+def|def|class)\s+{re.escape(name)}\b", code, re.MULTILINE) is not None


def _pick_block(bodies: list[str], entry_point: str | None) -> str:
    if entry_point:
        defining = [b for b in bodies if defines(b, entry_point)]
        if defining:
            bodies = defining
    parsable = [b for b in bodies if b.strip() and parses(b)]
    return (parsable or bodies)[-1]


def code_from_prose(text: str) -> str:
    """The parsable code region of an unfenced answer: from the first code-looking line, prose trimmed off."""
    if parses(text):
        return text
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if _CODE_START.match(line)]
    if not starts:
        return text
    for start in starts[:_MAX_STARTS]:
        for end in range(len(lines), start, -1):
            candidate = "\n".join(lines[start:end])
            if parses(candidate):
                return candidate
    return "\n".join(lines[starts[0] :])


def extract_code(response: str, entry_point: str | None = None) -> str:
    """The program to run for one response; `entry_point` (function or class name) guides the block choice."""
    text = strip_fewshot_markers(strip_reasoning(str(response)))
    blocks = fenced_blocks(text)
    if blocks:
        bodies = [body for tag, body in blocks if (tag.split()[0] if tag else "") in _PYTHON_TAGS]
        if bodies:
            return _pick_block(bodies, entry_point).strip("\n")
    return code_from_prose(text).strip("\n")
