"""s2render: render Sentinel-2 products into images, in parallel batch jobs."""

__version__ = "0.1.0"
