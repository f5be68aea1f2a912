"""Piper becomes every avatar's voice unless configured otherwise.

Avatars still on the old defaults (espeak-ng, voice "en-us") never chose espeak-ng: the
neural voice could not run without a setting then. They move to Piper with each language's
default voice; an avatar with any other voice keeps its choice.
"""

from django.db import migrations, models


def to_piper(apps, schema_editor):
    Avatar = apps.get_model("avatars", "Avatar")
    Avatar.objects.filter(tts_backend="espeak", voice="en-us").update(tts_backend="piper", voice="")


def to_espeak(apps, schema_editor):
    Avatar = apps.get_model("avatars", "Avatar")
    Avatar.objects.filter(tts_backend="piper", voice="").update(tts_backend="espeak", voice="en-us")


class Migration(migrations.Migration):
    dependencies = [
        ("avatars", "0002_consent_event"),
    ]

    operations = [
        migrations.AlterField(
            model_name="avatar",
            name="tts_backend",
            field=models.CharField(
                choices=[
                    ("piper", "Piper neural voice (espeak-ng where a language has none)"),
                    ("espeak", "espeak-ng"),
                ],
                default="piper",
                max_length=10,
            ),
        ),
        migrations.AlterField(
            model_name="avatar",
            name="voice",
            field=models.CharField(
                blank=True,
                default="",
                help_text=(
                    "Empty: each language's default voice. Else an installed voice of the "
                    "backend, e.g. en_US-joe-medium (Piper, or any voice in the voices folder) "
                    "or en-gb (espeak-ng); a missing or broken Piper voice speaks with espeak-ng."
                ),
                max_length=100,
            ),
        ),
        migrations.RunPython(to_piper, to_espeak),
    ]
