"""The application: the ``sonolux`` command line (one module per command under
``commands/``), the run loop shared by windowed and windowless runs, and the OSC control
server. It wires the engine's layers together and reaches into none of them."""
