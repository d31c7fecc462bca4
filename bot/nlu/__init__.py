"""Custom NLU components for the Rasa pipeline (loaded by name from config.yml)."""
