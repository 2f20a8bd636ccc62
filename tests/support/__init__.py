"""Helpers the tests share (no tests here): model builders, the GitHub stand-in, report data, paths, goldens."""
