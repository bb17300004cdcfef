"""Top-level routes. Every named route here must have an entry in the permission matrix
(backend/accounts/permission_matrix.yaml); tests/integration/test_permission_matrix.py enforces it."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import include, path

from backend.core.views import metrics
from backend.health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/", include(("backend.accounts.urls", "accounts"))),
    path("api/v1/", include(("backend.api_urls", "api"))),
    path("", include(("backend.dashboard.urls", "dashboard"))),
]
