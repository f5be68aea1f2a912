/*
 * On the avatar page, "Play a sample" beside each language's voice plays a short sentence in
 * the voice selected there (not yet saved), with the backend selected on the page.
 */
(() => {
  "use strict";

  async function play(button) {
    const select = document.getElementById(button.dataset.select);
    const backend = document.getElementById("id_tts_backend");
    const state = button.parentElement.querySelector(".voice-preview-state");
    const audio = button.parentElement.querySelector(".voice-preview-audio");
    if (!select || !audio) return;
    const query = new URLSearchParams({
      voice: select.value,
      language: button.dataset.language,
      backend: backend ? backend.value : "piper",
    });
    button.disabled = true;
    if (state) state.textContent = " Synthesizing…";
    try {
      const response = await fetch(`${button.dataset.url}?${query}`, {
        credentials: "same-origin",
      });
      if (!response.ok) throw new Error(await response.text());
      const spoke = response.headers.get("X-Voice") || select.value;
      if (audio.src) URL.revokeObjectURL(audio.src);
      audio.src = URL.createObjectURL(await response.blob());
      try {
        await audio.play();
        if (state) state.textContent = ` Playing: ${spoke}`;
      } catch (refused) {
        // The browser wants a fresh click when synthesis took long: its own play button.
        audio.controls = true;
        if (state) state.textContent = ` Ready: ${spoke} (press play)`;
      }
    } catch (error) {
      if (state) state.textContent = ` No sample: ${error.message}`;
    } finally {
      button.disabled = false;
    }
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("button.voice-preview");
    if (button) play(button);
  });
})();
