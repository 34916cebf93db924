"""``s2render bench``: our renderer against the seed's original algorithm, timed and measured.

Modules: ``memory`` (process-tree memory sampler), ``seed`` (the seed's algorithm, runnable),
``decode`` (decode-alone baseline, runnable), ``geometry`` (crop box and window maths),
``scenarios`` (the commands measured and the outputs they must produce), ``report`` (targets,
ratios, table) and ``run`` (the whole benchmark).
"""
