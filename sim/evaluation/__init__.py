"""Virtual evaluations: the published studies of technology-centre clients rerun on the
model's firms (``designs``), beside the true effect the baseline twins give (``evaluate``),
and the platform's service parameters fitted to what the studies found (``fit``).

``panel`` is imported by the model (its null object), so this package imports nothing else.
"""
