"""Offline replacement for the pip bootstrap script that ansible-test downloads.

ansible-test runs ~/.ansible/test/cache/get_pip_<version>.py to put pip into each virtual environment
it creates. This copy installs pip from the wheel cached beside it instead of fetching anything, and
accepts the bootstrap-only flags (--no-setuptools, --no-wheel) that pip itself does not know.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
VERSION = os.path.splitext(os.path.basename(__file__))[0][len("get_pip_"):].replace("_", ".")
WHEEL = os.path.join(HERE, "pip-%s-py3-none-any.whl" % VERSION)


def main():
    if not os.path.isfile(WHEEL):
        sys.exit("pip wheel %s is missing: run tools/ansible-test.sh once to cache it" % WHEEL)
    args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
    sys.path.insert(0, WHEEL)
    from pip._internal.cli.main import main as pip_main  # pylint: disable=import-outside-toplevel

    return pip_main(["install", "--no-index", "--find-links", HERE] + args)


if __name__ == "__main__":
    sys.exit(main())
