"""`python -m doctor`: see doctor/npu.py."""
import sys

from doctor import npu

if __name__ == '__main__':
    sys.exit(npu.main())
