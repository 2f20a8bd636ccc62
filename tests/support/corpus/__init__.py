"""The hostile-input corpus: cases as data (``cases``), the models and sample files they need built by
code (``artifacts``), and a harness that runs one case isolated and measured (``harness``, with the
standalone ``supervise`` script it starts). ``tests/integration/test_hostile.py`` runs every case."""
