"""Test infrastructure that stands in for remote services: local HTTP servers on 127.0.0.1."""
