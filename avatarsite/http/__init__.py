"""The HTTP side of the site: views, session tokens and origins, health, private error reports."""
