"""The sale store: one module per aggregate, owning its SQL and returning dataclasses."""
