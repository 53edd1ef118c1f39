"""Input and output: reading a loss's inputs from files or stdin, and writing gradients."""

from losscli.io.readers import FORMATS, InputInfo, LoadedInputs, bind_sources, load_inputs, read_inputs
from losscli.io.writers import gradients_long_table, write_gradients

__all__ = [
    "FORMATS",
    "InputInfo",
    "LoadedInputs",
    "bind_sources",
    "gradients_long_table",
    "load_inputs",
    "read_inputs",
    "write_gradients",
]
