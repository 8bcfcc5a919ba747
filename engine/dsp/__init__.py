"""Numba kernels. Free functions that write into preallocated ``out`` arrays and know
nothing about classes, threads or streams (librosa's ``out=`` style, aubio's sizing).

The GIL: per-hop kernels keep it (``@njit(cache=True)``). They run for microseconds, and a
kernel that releases the GIL hands it to whichever Python thread is waiting (the inference
worker, the OSC sender), which the analysis thread must then wait out, several times a hop.
Holding it makes one analysis hop one uninterrupted stretch. Only kernels that run long, off
the analysis thread, release it (``nogil=True``): the offline pass ``features._run``, the
inference worker's ``resample_into_nogil`` and ``sonolux.modelinput``'s feature kernels
(``tests/test_no_alloc.py`` checks the list).
"""
