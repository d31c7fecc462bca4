"""The local web chat: a try-out channel without platform credentials."""
