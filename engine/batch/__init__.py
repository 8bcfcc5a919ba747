"""Catalogue analysis: many tracks through the ``analyze`` path on Ray, into Parquet, queried
with DuckDB.

``sonolux batch SOURCES... --out DIR`` finds the tracks (:mod:`.sources`), runs each through
the very same analysis as ``sonolux analyze`` on a pool of Ray actors that load the models
once (:mod:`.worker`, :mod:`.runner`), turns every document into one row plus its timeline
(:mod:`.rows`) and writes them atomically, batch by batch, so a rerun resumes
(:mod:`.store`). ``sonolux catalogue query DIR "..."`` reads the result (:mod:`.catalogue`).

Ray, pyarrow and DuckDB are the optional extra ``batch``; nothing here imports them at module
level, so the live engine never loads them.
"""
