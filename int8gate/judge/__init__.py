"""Judgement over plain facts.

The ordered explanation findings and the verdict (pass / fail / inconclusive, exit codes).
"""
