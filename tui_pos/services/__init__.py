"""Use cases over the models, one transaction each."""
