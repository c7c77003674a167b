"""`lm-eval-tts view`: one self-contained HTML file to read the samples of lm-eval runs.

samples   read `samples_<task>_<ts>.jsonl` beside each results file into problems and their n samples
hot_token where FIRE's hot token lies in each response, and its text (decoded with the run's tokenizer)
page      the embedded data (a small index, lazily decoded detail chunks), tables, plots, the HTML itself
cli       `lm-eval-tts view OUT... -o report.html`
assets/   the page's template, style and vanilla JS (no network, no CDN)
"""
