"""The policy.

What `.int8gate.yml` asks for (`spec`), its YAML with line numbers (`yamlmap`), and loading it
against the shipped JSON Schema (`load`).
"""
