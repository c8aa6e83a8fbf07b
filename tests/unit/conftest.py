"""Make Heat's own test harness usable from an installed Heat.

- heat.tests.common selects oslo.service's threading backend on import;
  anything that imports heat.engine first selects eventlet and the harness
  then refuses to load: import it first.
- HeatTestCase looks for Heat's ``etc/heat/environment.d`` next to its
  source tree; pip installs it under ``<venv>/etc/heat``.  Build Heat's
  global environment once from there, before any test case asks for it.
"""

import os
import sys

import heat.tests.common  # noqa: F401
from heat.engine import resources
from oslo_config import cfg

_HEAT_ETC = os.path.join(sys.prefix, 'etc', 'heat')
cfg.CONF.set_default('environment_dir',
                     os.path.join(_HEAT_ETC, 'environment.d'))
cfg.CONF.set_default('template_dir', os.path.join(_HEAT_ETC, 'templates'))
resources.initialise()
