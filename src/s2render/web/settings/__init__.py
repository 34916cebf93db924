"""Django settings: ``local`` (the embedded default) and ``production``; both build on ``base``."""
