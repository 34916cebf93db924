from django.apps import AppConfig


class ProductsConfig(AppConfig):
    name = "s2render.web.products"
    label = "products"
    verbose_name = "Products"
