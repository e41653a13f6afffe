# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Code the tests, the benchmarks and the Makefile share (``tests.support``).

Importable as ``tests.support`` from the checkout's root, with no sys.path edits: pytest puts the
root on sys.path because ``tests/`` is a package, ``python -m pytest``, ``python -m bench.<name>``
and ``python -m tests.support.<name>`` because they run there. Not part of the built collection
(galaxy.yml build_ignore: tests).

``pgcluster``  throwaway PostgreSQL clusters (tests, benchmarks, ``make demo``)

The pytest markers of the test areas are in tests/conftest.py.
"""
