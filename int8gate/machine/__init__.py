"""The runner as data.

CPU and cgroup facts parsed from /proc and /sys text, the expected speedup range, and the probe that
reads the live machine.
"""
