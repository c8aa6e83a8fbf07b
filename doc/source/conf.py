# Sphinx configuration for the Rescuer documentation.
project = 'Rescuer'
copyright = '2026, the Rescuer developers'
extensions = []
source_suffix = {'.rst': 'restructuredtext'}
root_doc = 'index'
exclude_patterns = []
html_theme = 'alabaster'
pygments_style = 'sphinx'
