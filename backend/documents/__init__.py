"""Documents: sniffed, hashed, encrypted at rest, stored behind a small interface."""
