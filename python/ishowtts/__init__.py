"""ishowtts: voice-cloning TTS server on F5-TTS with a native audio core."""

__version__ = "0.1.0"
