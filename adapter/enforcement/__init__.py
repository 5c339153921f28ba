"""Where the policy engine (adapter.policy, pure decisions) meets the store and the interactions.

- `columns`: the access columns every stored version carries (owner organisation, access key),
  which the SQL filters read.
- `labels`: the security labels the server sets on governed resources (clients never do).
- `state`: the policy inputs read from the store (hierarchy, contracts, overrides), cached per
  store generation, and each caller's grants.
- `filters`: a caller's grants as SQL conditions over those columns.
- `gate`: the one object every interaction asks, per request: SQL narrowing, the re-check of
  each resource before it leaves, the masked view, and what the audit trail records.
"""
