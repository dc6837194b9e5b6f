"""The application layer: one module per use case, returning typed results that every front
end (the CLI, chat, queue workers) renders or stores. See ARCHITECTURE.md."""
