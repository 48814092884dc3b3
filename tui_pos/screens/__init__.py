"""Textual screens: they call services and never query models."""
