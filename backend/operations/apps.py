from django.apps import AppConfig


class OperationsConfig(AppConfig):
    name = "backend.operations"
    label = "operations"
    verbose_name = "Operations: authorised deployments of live recognition"
