"""Our profiles and extensions (StructureDefinition-<id>.json) and the code that enforces them.

API: `profiles.validate.validate_profiles(resource)` and `validate_all(resource)`.
"""
