from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "s2render.web.api"
    label = "api"
    verbose_name = "API"
