"""python -m trainers.osmn --help"""
from __future__ import absolute_import, division, print_function

import sys

from trainers.osmn import train

if __name__ == '__main__':
    sys.exit(train.main())
