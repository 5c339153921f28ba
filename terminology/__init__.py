"""Our CodeSystems and ValueSets (<Type>-<id>.json) and the terminology operations on them.

API: `terminology.operations.lookup / validate_code / expand`; loading in `registry.py`.
"""
