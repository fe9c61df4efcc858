"""The commands that fit, predict, evaluate and use runs (registered by ``cli.py``): ``fitting`` (fit, predict,
score-zero-shot), ``evaluating`` (evaluate), ``using_runs`` (score, runs, report)."""
