"""Music-driven imagery: an image bank matched to the music (a joint music–image embedding),
images generated from the music (a conditional DCGAN), and music videos cut on the music's
periods. See docs/imagery.md.

Modules: ``colour`` (image loading, colour statistics, the Valdez & Mehrabian emotion rule),
``models`` (the ONNX encoders and generator with their contracts), ``index`` (``sonolux images
index DIR``), ``matcher`` (ranking off the GUI thread), ``periods`` (the music-video cut list),
``context`` (what ``run`` / ``render --images DIR`` hand to the presets), ``level`` (the music
window's level normalisation: the mixer's gain does not change the picture).
"""
