from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("upload", views.upload, name="upload"),
    path("notarize", views.notarize, name="notarize"),
    path("record/<str:digest>", views.record, name="record"),
]
