"""Create the first admin account once. Credentials come from FR_ADMIN_USERNAME /
FR_ADMIN_PASSWORD, or a password is generated and printed this one time only."""

from __future__ import annotations

import os
import secrets

from django.core.management.base import BaseCommand

from backend.accounts.services import bootstrap_admin


class Command(BaseCommand):
    help = "Create the first admin account if none exists; print its password once."

    def handle(self, *args: object, **options: object) -> None:
        username = os.environ.get("FR_ADMIN_USERNAME") or "admin"
        given = os.environ.get("FR_ADMIN_PASSWORD")
        password = given or secrets.token_urlsafe(15)
        user, created = bootstrap_admin(username=username, password=password)
        if not created:
            self.stdout.write(f"admin account: {user.username} (exists; password unchanged)")
            return
        if given:
            self.stdout.write(f"admin account created: {username} (password from FR_ADMIN_PASSWORD)")
        else:
            self.stdout.write(
                self.style.WARNING(
                    f"admin account created: username {username}  password {password}\n"
                    "  This password is shown once. Store it now; change it after the first login."
                )
            )
