"""Watch: what the client hooks observe during a session (context bands, spirals, the breaker)."""
