"""Agents: baselines (reference, null, random) and model-backed ones (anthropic, openai)."""
