"""python -m trainers.sasiam --help"""
from __future__ import absolute_import, division, print_function

import sys

from trainers.sasiam import train

if __name__ == '__main__':
    sys.exit(train.main())
