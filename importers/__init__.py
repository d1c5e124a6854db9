"""Import per-item results from other harnesses into the lake (xstage import lm-eval|lighteval|table).

A stage of its own: it reads outside files, writes lake tables through xstage.lake, and imports no
other stage. Nothing is written unless the whole import validates.
"""
