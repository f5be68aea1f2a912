"""Canned answers: FAQ replies stored as the media stream they played, replayed on a hit."""
