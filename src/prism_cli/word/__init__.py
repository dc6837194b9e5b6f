"""Word adapter: safe reading of OOXML packages and writing reviewed copies."""
