-- Folds delete requests into their tombstones (docs/design.md section 5).
--
-- KEYS[1] the current-generation pointer (P:generation).
-- ARGV[1] key prefix P, ARGV[2] generation ('' = the one KEYS[1] names, read
-- in this call, as in fold.lua), ARGV[3] JSON [[kind, id, requestedAt], ...],
-- ARGV[4] JSON {"topic/partition": highest offset} kept in the generation's
-- 'folded' hash.
-- The generation's keys ('{P:g<generation>}:' followed by 'folded', 'e:<edge
-- id>', 'n:<node id>', 'edel', 'ndel') are built here, as in fold.lua and for
-- the same reason.
-- A request's kind is "e" (one edge, id = edge id), "o" (every edge out of node id) or
-- "i" (every edge into node id). A tombstone keeps the latest requestedAt:
-- a max, so deletes and events fold in any order to the same graph.
-- Tombstoned edges and nodes are also listed in the sets 'edel' and 'ndel', so
-- that queries need not read an edge or node to know it has none (expand.lua).
local prefix, generation = ARGV[1], ARGV[2]
if generation == '' then generation = redis.call('GET', KEYS[1]) or '1' end
local base = '{' .. prefix .. ':g' .. generation .. '}:'
local requests = cjson.decode(ARGV[3])
for place, offset in pairs(cjson.decode(ARGV[4])) do
  local cur = redis.call('HGET', base .. 'folded', place)
  if (not cur) or offset > tonumber(cur) then
    redis.call('HSET', base .. 'folded', place, string.format('%d', offset))
  end
end
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
