"""The six Measures (fhir-conventions.md "Names"), shipped with the adapter and read-only over the
API. Generated from adapter/aggregates/definitions.py by `python -m adapter.aggregates.build_measures`."""
