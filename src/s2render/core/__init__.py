"""Pure rendering library: products, bands, radiometry, stretch, encoding.

No Django, no Dask, no settings or environment variables: every knob is an argument.
"""
