"""lm-eval-tts: test-time-scaling evaluation for lm-evaluation-harness.

Kept import-free on purpose: the `.pth` hook imports this package in every Python process.
"""

__version__ = "0.1.0"
