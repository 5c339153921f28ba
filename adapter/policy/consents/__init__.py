"""The tier Consents of the data-use policy, shipped with the adapter (read-only)."""
