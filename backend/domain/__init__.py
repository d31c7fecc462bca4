"""Pure claim rules: no I/O, no framework, the clock is always a parameter."""
