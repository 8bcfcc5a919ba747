"""Numba kernels. Free functions that write into preallocated ``out`` arrays and know
nothing about classes, threads or streams (librosa's ``out=`` style, aubio's sizing)."""
