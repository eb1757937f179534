"""The hostile-input suite: hand-made attack files and mutated corpus seeds, sent through the
real upload and ingest path (see ``docs/security.md``)."""
