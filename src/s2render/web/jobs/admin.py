from django.contrib import admin

from s2render.web.jobs.models import Dispatcher, Job, Rendering


class RenderingInline(admin.TabularInline):
    model = Rendering
    extra = 0
    fields = ("index", "product", "spec", "status", "attempts", "error", "output")
    readonly_fields = fields


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ("id", "uuid", "owner", "title", "status", "created_at", "finished_at")
    list_filter = ("status",)
    search_fields = ("uuid", "title", "owner__username")
    inlines = [RenderingInline]


@admin.register(Rendering)
class RenderingAdmin(admin.ModelAdmin):
    list_display = ("id", "job", "index", "product", "status", "attempts", "claimed_by")
    list_filter = ("status",)


@admin.register(Dispatcher)
class DispatcherAdmin(admin.ModelAdmin):
    list_display = ("name", "host", "pid", "started_at", "heartbeat_at")
