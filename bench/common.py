"""What every benchmark shares: the machine description and the result file."""
from __future__ import absolute_import, division, print_function

import json
import multiprocessing
import os
import platform

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def machine():
    import cv2
    model = ''
    try:
        with open('/proc/cpuinfo') as f:
            model = next(line.split(':', 1)[1].strip() for line in f
                         if line.startswith('model name'))
    except (IOError, StopIteration):
        pass
    return '%s, %d cores, %s, Python %s, OpenCV %s' % (
        model or platform.processor(), multiprocessing.cpu_count(), platform.system(),
        platform.python_version(), cv2.__version__)


def write_result(workdir, result):
    """WORKDIR/result.json, and the same JSON on stdout."""
    os.makedirs(workdir, exist_ok=True)
    with open(os.path.join(workdir, 'result.json'), 'w') as f:
        json.dump(result, f, indent=1, sort_keys=True)
    print(json.dumps(result, indent=1, sort_keys=True))
