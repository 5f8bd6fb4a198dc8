#!js api_version=1.0 name=empty
// Benchmark variant (g): a trigger on every key that does nothing.
redis.registerKeySpaceTrigger("empty", "", function(client, data) {});
