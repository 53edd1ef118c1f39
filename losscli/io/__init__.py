"""Input and output: reading a loss's inputs from files or stdin, and writing gradients."""

from losscli.io.readers import FORMATS, bind_sources, load_inputs
from losscli.io.writers import gradients_long_table, write_gradients

__all__ = ["FORMATS", "bind_sources", "gradients_long_table", "load_inputs", "write_gradients"]
