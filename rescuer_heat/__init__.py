"""Heat adapter: resource plugins over the Rescuer core.

heat-engine loads the modules of ``rescuer_heat/resources`` from its
``plugin_dirs``; each module ends with ``resource_mapping()``.
"""
