"""The model engine: the chain walk with fallback, the request rules of each model, the catalog
of models and their facts, and per-model quotas in both of Bedrock's dimensions. Pure: no I/O
library is imported here (``bedrock/`` is its adapter; the port is ``core.ports``); time and
waiting come in through an injected clock."""
