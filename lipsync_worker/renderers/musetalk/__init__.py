"""MuseTalk v1.5 lip-sync backend, clean-room: latent inpainting of the lower face from Whisper features.

`availability` imports only torch, so a worker can decide before loading diffusers or weights;
the renderer is `lipsync_worker.renderers.musetalk.renderer.MuseTalkRenderer`.
"""

from __future__ import annotations
