"""Pure core of prism: no I/O library is imported here (a test enforces it)."""
