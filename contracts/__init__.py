"""What the web process and the workers agree on: media constants and inter-process messages.

Imported by both sides, importing nothing of theirs (no Django, no Celery, no renderer).
"""
