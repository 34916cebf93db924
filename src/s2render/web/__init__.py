"""The web layer: Django project, job state, REST API. Owns the database (DESIGN.md section 2)."""
