-- Folds delete requests into their tombstones (DESIGN.md section 5).
--
-- ARGV[1] base key prefix, ARGV[2] JSON [[kind, id, requestedAt], ...] where
-- kind is "e" (one edge, id = edge id), "o" (every edge out of node id) or
-- "i" (every edge into node id). A tombstone keeps the latest requestedAt:
-- a max, so deletes and events fold in any order to the same graph.
-- Tombstoned edges and nodes are also listed in the sets 'edel' and 'ndel', so
-- that queries need not read an edge or node to know it has none (expand.lua).
local base = ARGV[1]
local requests = cjson.decode(ARGV[2])
local where = {e = {'e:', 'del'}, o = {'n:', 'dout'}, i = {'n:', 'din'}}
for _, r in ipairs(requests) do
  local place = where[r[1]]
  local key = base .. place[1] .. r[2]
  local cur = redis.call('HGET', key, place[2])
  if (not cur) or r[3] > cur then
    redis.call('HSET', key, place[2], r[3])
    redis.call('SADD', base .. (r[1] == 'e' and 'edel' or 'ndel'), r[2])
  end
end
return #requests
