"""The benchmark's library: everything bench/bench.py runs, one module per role.

bench/bench.py is the entry point (the command line and its two modes); it
re-exports every name defined here, so `import bench` (bench/soak.py,
bench/removed_value.py) keeps working. From the bottom layer up, each module
importing only from the ones before it:

    common      paths, settings, log, BenchError
    resp        a minimal RESP2 client (Client, RedisError, pairs)
    servers     redis-server subprocesses (Server, Servers) and CPU pinning
    variants    what each variant's server loads (Binaries, VARIANTS)
    checks      the sanity checks around each measurement
    throughput  the redis-benchmark workloads and the rounds (Throughput)
    footprint   memory, TRIGGER LOAD latency and restart time
    report      RESULTS.md
"""



