-- The stored fields of a list of edges, in one round trip (the kept edges of a
-- lineage query, adapters/redis_reader.py).
--
-- ARGV[1] base key prefix, ARGV[2] the edge ids concatenated (64 characters
-- each). Returns one HGETALL field list per id, in order (empty for an edge
-- that no longer exists).
local base, ids = ARGV[1], ARGV[2]
local rows = {}
for i = 1, #ids, 64 do
  rows[#rows + 1] = redis.call('HGETALL', base .. 'e:' .. string.sub(ids, i, i + 63))
end
return rows
