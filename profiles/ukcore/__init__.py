"""UK Core base definitions (differentials) our profiles derive from; see ../ORIGIN.md."""
