"""Many hush nodes on one DuckLake: the catalog in PostgreSQL, the data in a bucket or a shared
directory (README, "Past one machine"). ``LakeStore`` is the ``Store`` such a node opens."""
