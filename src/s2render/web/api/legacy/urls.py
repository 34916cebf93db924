from django.urls import path

from s2render.web.api.legacy import views

urlpatterns = [
    path("", views.overview, name="api-overview"),
    path("job-list/", views.job_list_view, name="job-list"),
    path("job-detail/<str:pk>/", views.job_detail, name="job-detail"),
    path("job-create/", views.job_create, name="job-create"),
    path("job-update/<str:pk>/", views.job_update, name="job-update"),
    path("job-delete/<str:pk>/", views.job_delete, name="job-delete"),
    path("job-run/<str:pk>/", views.job_run, name="job-run"),
]
