"""News near-duplicate detection and story clustering.

Data flows one way: read (:mod:`clustering.io`) -> normalise (:mod:`clustering.normalise`) ->
fingerprint and dedup (:mod:`clustering.dedup`) -> embed (:mod:`clustering.embed`) -> cluster
(:mod:`clustering.stories`) -> store (:mod:`clustering.store`). Evaluation lives in
:mod:`clustering.evaluate`.
"""

__version__ = "0.1.0"
