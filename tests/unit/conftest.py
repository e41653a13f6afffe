# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Makes ansible_collections.fleetops.runbook importable when pytest runs from a checkout."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import sys

_COLLECTIONS = os.path.join(os.path.dirname(__file__), '..', '..', '.cache', 'collections')
if os.path.isdir(_COLLECTIONS) and os.path.abspath(_COLLECTIONS) not in sys.path:
    sys.path.insert(0, os.path.abspath(_COLLECTIONS))
