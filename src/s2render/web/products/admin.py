from django.contrib import admin

from s2render.web.products.models import Product


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ("name", "level", "tile", "sensed_at", "baseline", "cloud_cover", "state")
    list_filter = ("level", "state", "tile")
    search_fields = ("name", "location")
