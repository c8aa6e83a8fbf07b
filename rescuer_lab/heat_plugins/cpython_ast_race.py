# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

"""Work around CPython 3.11's spurious AST SystemError in Heat's engine.

CPython 3.11.0 to 3.11.7 keep the AST constructor's recursion depth in
state shared by all threads. When garbage collection releases the GIL in
the middle of building an AST, another thread's parse can change that
depth, and ``ast.literal_eval`` raises ``SystemError: AST constructor
recursion depth mismatch`` for valid input (python/cpython#106905, fixed
in 3.11.8 and 3.12). Heat's convergence engine parses every tuple key of
its sync points with ``ast.literal_eval``, so under load a resource can
fail with that error; the lab saw it in a 200-resource stack update.

The parse has no side effects, so retrying it is safe. This module, loaded
from heat-engine's ``plugin_dirs``, makes Heat's sync-point parser retry
on that one error, and only on the affected Pythons. It defines no
resource types. Operators on those Pythons can load it the same way; a
Python of 3.11.8 or later needs nothing.
"""

import ast
import sys

from oslo_log import log as logging

LOG = logging.getLogger(__name__)

AFFECTED_VERSIONS = ((3, 11, 0), (3, 11, 8))
SPURIOUS_ERROR = 'AST constructor recursion depth mismatch'
ATTEMPTS = 5


def is_affected(version_info=sys.version_info):
    first, fixed = AFFECTED_VERSIONS
    return first <= tuple(version_info[:3]) < fixed


def literal_eval_retrying(text, parse=ast.literal_eval, attempts=ATTEMPTS):
    """ast.literal_eval, tried again on CPython's spurious SystemError."""
    for attempt in range(1, attempts + 1):
        try:
            return parse(text)
        except SystemError as exc:
            if SPURIOUS_ERROR not in str(exc) or attempt == attempts:
                raise
            LOG.warning('Parsing a sync-point key hit CPython 3.11\'s '
                        'spurious "%s" (python/cpython#106905); '
                        'parsing it again (attempt %d of %d)',
                        SPURIOUS_ERROR, attempt + 1, attempts)


def unpack_tuple(text):
    """Heat's sync_point._str_unpack_tuple, with the retry."""
    return literal_eval_retrying(text[text.index(':') + 1:])


def install(version_info=sys.version_info):
    """Put the retrying parser into Heat's sync points; True if it did."""
    if not is_affected(version_info):
        return False
    from heat.engine import sync_point
    sync_point._str_unpack_tuple = unpack_tuple
    return True


if install():
    LOG.info('Python %s has python/cpython#106905: Heat\'s sync-point '
             'keys are parsed with a retry', sys.version.split()[0])
