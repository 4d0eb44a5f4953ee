"""bjoern with N processes: bjoern has no worker option; listen once, fork, run in each.

    python bjoern_serve.py MODULE:CALLABLE PORT WORKERS
"""

import importlib
import os
import sys

import bjoern

spec, port, workers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
module, name = spec.split(":")
app = getattr(importlib.import_module(module), name)
bjoern.listen(app, "127.0.0.1", port)
for _ in range(workers - 1):
    if os.fork() == 0:
        break
bjoern.run()
