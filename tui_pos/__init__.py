"""tui-pos: a keyboard-driven point of sale for thin-client registers."""

__version__ = "0.1.0"
