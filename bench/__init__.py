"""`make bench`: the template's side-by-side benchmark (run.py) and its baselines."""
