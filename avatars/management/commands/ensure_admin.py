"""Create the admin user when missing (password from ADMIN_PASSWORD or generated)."""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from avatarsite.env import env_optional


class Command(BaseCommand):
    help = "Create the admin superuser once; a generated password is printed that one time."

    def handle(self, *args: Any, **options: Any) -> None:
        users = get_user_model()
        password = env_optional("ADMIN_PASSWORD")
        user = users.objects.filter(username=settings.ADMIN_USER).first()
        if user is not None:
            if password and not user.check_password(password):
                user.set_password(password)
                user.save(update_fields=["password"])
                self.stdout.write(f"admin '{user.username}': password set from ADMIN_PASSWORD")
            return
        shown = password or secrets.token_urlsafe(12)
        users.objects.create_superuser(settings.ADMIN_USER, settings.ADMIN_EMAIL, shown)
        if password:
            self.stdout.write(f"admin '{settings.ADMIN_USER}' created with ADMIN_PASSWORD")
        else:
            self.stdout.write(
                self.style.WARNING(
                    f"admin '{settings.ADMIN_USER}' created; password (shown only now): {shown}"
                )
            )
