from django.urls import path

from . import (
    alert_views,
    audit_views,
    evaluation_views,
    history_views,
    operation_views,
    stats_views,
    views,
    watchlist_views,
)

urlpatterns = [
    path("", views.home, name="home"),
    path("watchlists/", watchlist_views.watchlist_list, name="watchlists"),
    path("watchlists/<int:pk>/import/", watchlist_views.watchlist_import, name="watchlist-import"),
    path("subjects/", watchlist_views.subject_list, name="subjects"),
    path("subjects/new/", watchlist_views.subject_new, name="subject-new"),
    path("subjects/<int:pk>/", watchlist_views.subject_detail, name="subject-detail"),
    path("alerts/<int:pk>/", alert_views.alert_detail, name="alert-detail"),
    path("audit/", audit_views.audit_log, name="audit"),
    path("operations/", operation_views.operation_list, name="operations"),
    path("operations/<int:pk>/", operation_views.operation_detail, name="operation-detail"),
    path("history/", history_views.match_history, name="match-history"),
    path("stats/", stats_views.zone_stats, name="stats"),
    path("evaluation/", evaluation_views.evaluation_list, name="evaluation-list"),
    path("evaluation/<int:pk>/", evaluation_views.evaluation_detail, name="evaluation-detail"),
    path("evaluation/<int:pk>/report.md", evaluation_views.evaluation_markdown, name="evaluation-markdown"),
    path("evaluation/<int:pk>/report.html", evaluation_views.evaluation_html, name="evaluation-html"),
]
