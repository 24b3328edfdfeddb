"""Model providers: the interface every provider implements (``base``), the offline scripted
model and ``FunctionModel`` test doubles, OpenAI-compatible and Anthropic clients, and the
resolver that picks a provider for an agent's ``model:``."""
