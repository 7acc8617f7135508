-- One step of the retention sweep of column edges (adapters/redis_columns.py):
-- removes the column edges, among the next SSCAN chunk of 'cedges', whose
-- lastSeen is not after the floor (docs/design.md section 5a: retention hides
-- a column edge as it hides an edge; the sweep frees its memory).
--
-- KEYS[1] 'cedges' of the generation (docs/redis.md).
-- ARGV[1] the generation's base key prefix '{P:g<generation>}:', to which the
-- ids this call finds are appended ('c:', 'cout:', 'cin:'), ARGV[2] floor
-- (normalised RFC 3339, not empty), ARGV[3] SSCAN cursor, ARGV[4] SSCAN COUNT.
-- Returns {next cursor, column edges removed}. The 'dcol:' and 'cds' entries
-- stay: a field or a name without edges lists nothing.
local base, floor = ARGV[1], ARGV[2]
local scan = redis.call('SSCAN', KEYS[1], ARGV[3], 'COUNT', ARGV[4])
local removed = 0
for _, cid in ipairs(scan[2]) do
  local ck = base .. 'c:' .. cid
  local ls = redis.call('HGET', ck, 'ls')
  if (not ls) or ls <= floor then
    redis.call('DEL', ck)
    redis.call('SREM', KEYS[1], cid)
    redis.call('SREM', base .. 'cout:' .. string.sub(cid, 1, 32), cid)
    redis.call('SREM', base .. 'cin:' .. string.sub(cid, 33), cid)
    removed = removed + 1
  end
end
return {scan[1], removed}
