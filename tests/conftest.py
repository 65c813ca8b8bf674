"""One torch thread per test process: `make test` runs one pytest worker per core, and two threads per
worker on 2 cores made the suite 3x slower through oversubscription."""

import torch

torch.set_num_threads(1)
