"""The inputs a model pair is measured on.

The model's declared inputs, the plan that fixes their shapes, sample files and seeded random feeds.
"""
