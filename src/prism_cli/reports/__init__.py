"""Report renderers: one module per output format, each a function of the JSON report."""
