/*
 * Microphone capture for the avatar widget: the context's rate in, 16 kHz PCM16 out, in frames
 * of `frameSamples` (20 ms), each with its RMS level for the widget's local voice activity.
 * Resampling is linear interpolation between input samples: cheap enough for the audio thread,
 * and speech recognisers take it as it is (a one-pole low-pass in front, tried here, made
 * pocketsphinx worse: it blurs consonants more than aliasing above 8 kHz does).
 */
class AvatarCapture extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const { targetRate, frameSamples } = options.processorOptions;
    this.step = sampleRate / targetRate; // input samples per output sample
    this.position = 0; // where the next output sample falls, in input samples from `previous`
    this.previous = 0;
    this.frame = new Int16Array(frameSamples);
    this.filled = 0;
    this.energy = 0;
  }

  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (!channel) return true;
    for (let i = 0; i < channel.length; i++) {
      const current = channel[i];
      // Output samples that fall between the previous input sample and this one.
      while (this.position <= 1) {
        const value = this.previous + (current - this.previous) * this.position;
        this.push(value);
        this.position += this.step;
      }
      this.position -= 1;
      this.previous = current;
    }
    return true;
  }

  push(value) {
    const clipped = Math.max(-1, Math.min(1, value));
    this.frame[this.filled++] = clipped < 0 ? clipped * 32768 : clipped * 32767;
    this.energy += clipped * clipped;
    if (this.filled === this.frame.length) {
      const pcm = this.frame.buffer.slice(0);
      this.port.postMessage({ pcm, rms: Math.sqrt(this.energy / this.filled) }, [pcm]);
      this.filled = 0;
      this.energy = 0;
    }
  }
}

registerProcessor("avatar-capture", AvatarCapture);
