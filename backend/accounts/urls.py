from django.urls import path

from . import views

urlpatterns = [
    path("2fa/setup/", views.second_factor_setup, name="2fa-setup"),
    path("2fa/verify/", views.second_factor_verify, name="2fa-verify"),
]
