from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "s2render.web.jobs"
    label = "jobs"
    verbose_name = "Jobs"
