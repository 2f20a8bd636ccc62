"""Makes examples/ importable as `examples` so the test zoo (examples.modelzoo) type-checks under one module name."""
