"""The LLM step: prompt rendering, the answer schema and parsing, and the client that asks
any OpenAI-compatible endpoint for a structured diagnosis. Used by the diagnosis pipeline
after the analyzers have run; everything here degrades to "no answer", never to an error."""
