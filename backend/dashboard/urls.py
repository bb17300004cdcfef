from django.urls import path

from . import audit_views, views, watchlist_views

urlpatterns = [
    path("", views.home, name="home"),
    path("watchlists/", watchlist_views.watchlist_list, name="watchlists"),
    path("watchlists/<int:pk>/import/", watchlist_views.watchlist_import, name="watchlist-import"),
    path("subjects/", watchlist_views.subject_list, name="subjects"),
    path("subjects/new/", watchlist_views.subject_new, name="subject-new"),
    path("subjects/<int:pk>/", watchlist_views.subject_detail, name="subject-detail"),
    path("audit/", audit_views.audit_log, name="audit"),
]
