-- What a user would run instead of the last_updated trigger: the client's
-- HSET and the trigger's work (TYPE, TIME, HSET) in one script, from the
-- client. bench/tax.sh measures it beside the trigger, as (l):
--   EVALSHA <sha> 1 h:<n> f v
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if redis.call('TYPE', KEYS[1]).ok == 'hash' then
    local now = redis.call('TIME')
    redis.call('HSET', KEYS[1], '__last_updated__', now[1])
end
return 1
