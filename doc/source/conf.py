"""Sphinx configuration for the Rescuer documentation."""

import os
import sys

# The resource reference directive lives beside this file.
sys.path.insert(0, os.path.join(os.path.dirname(__file__), '_ext'))

project = 'Rescuer'
copyright = '2026, the Rescuer developers'
extensions = ['rescuer_schema']
source_suffix = {'.rst': 'restructuredtext'}
root_doc = 'index'
exclude_patterns = []
html_theme = 'alabaster'
pygments_style = 'sphinx'
