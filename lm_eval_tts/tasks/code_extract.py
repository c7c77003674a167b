"""Pull the program out of a model response: markdown fences, chat prose around code, or plain code.

Rules, in order (each a pure function of the text, so they are tested as tables):
1. A closed `<think>...</think>` section is dropped (reasoning models put scratch code there).
2. Few-shot MBPP markers: text after `[DONE]` is dropped, a leading `[BEGIN]` is dropped.
3. Fenced blocks (``` or ~~~, any info string; an unterminated last fence runs to the end, as when the model hit
   its token limit). A response that starts in code and then has a bare fence line was written inside a block
   the prompt opened (e.g. a response prefix ending in ```python): that fence closes it, so the code before it
   is a block and the prose after it is not. Blocks tagged with a non-Python language (text, bash, output, ...) are ignored. Among the
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


def leading_code(text: str) -> str | None:
    """The code `text` starts with, if it starts in code: an indented first line (the body of a function the
    prompt began), or a code start that is the beginning of a parsable region (trailing prose trimmed)."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    if first[:1] in (" ", "\t"):
        return text.strip("\n")
    if not _CODE_START.match(first):
        return None
    code = code_from_prose(text)
    return code.strip("\n") if parses(code) and code.lstrip().startswith(first.strip()) else None


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """(language tag, body) of every fenced block in order; an unterminated last fence runs to the end. A bare
    first fence after leading code closes a block that began before the response (rule 3)."""
    blocks = []
    pos = 0
    first = _FENCE_OPEN.search(text)
    lead = leading_code(text[: first.start()]) if first is not None and not first.group(2).strip() else None
    if lead is not None:
        blocks.append(("", lead))
        pos = first.end()
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


def truncate_at(text: str, stops: tuple[str, ...]) -> str:
    """`text` up to the first occurrence of any of `stops` (what a generation with those stop strings returns)."""
    cut = min((i for i in (text.find(stop) for stop in stops) if i != -1), default=len(text))
    return text[:cut]


def program_for_prompt(prompt: str, response: object, entry_point: str, stops: tuple[str, ...]) -> str:
    """The program a response to a code prompt (a function signature and docstring, EvalPlus/HumanEval style)
    stands for.

    A response whose code defines the entry point is a whole program (a chat answer): it runs after the prompt, so
    the prompt's imports and helper functions (HumanEval/32's `poly`) are there and its definition replaces the
    prompt's stub. Any other response continues the prompt (completion, EvalPlus's `prompt + completion`), cut at
    the first of `stops`, the stop strings a completion is generated with.
    """
    code = extract_code(response, entry_point)
    if defines(code, entry_point) and parses(code):
        return f"{prompt.rstrip()}\n\n\n{code}\n"
    return prompt + truncate_at(strip_reasoning(str(response)), stops)
