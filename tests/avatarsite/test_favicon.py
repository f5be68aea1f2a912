"""/favicon.ico, which every browser asks each site for: an icon, not a logged 404."""

from __future__ import annotations

import io

from django.test import Client
from PIL import Image


def test_favicon_is_an_icon_browsers_may_keep() -> None:
    response = Client().get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/x-icon"
    assert "max-age=604800" in response["Cache-Control"]
    icon = Image.open(io.BytesIO(b"".join(response.streaming_content)))
    assert icon.format == "ICO" and (32, 32) in icon.info["sizes"]
