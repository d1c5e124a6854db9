"""runner: the composition root, the one package above the stages.

It holds the `xstage` command's root (cli.py mounts every stage's commands) and the study runner
(study config, typed steps, the step DAG, the in-process and worker-pool executors), so it is the
only place that imports several stages. The ground floor (`xstage/`) and the stages never import
it; `make lint` (import-linter) enforces that.
Used by: every `xstage` command, and `xstage run STUDY` above all.
"""
