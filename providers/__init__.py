"""vpnsql's own providers, installed as `vpnsql_providers` and found via entry points."""
