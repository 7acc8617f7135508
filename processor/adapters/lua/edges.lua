-- The packed records of a list of edges, in one round trip (the kept edges of
-- a lineage query, adapters/redis_reader.py).
--
-- No KEYS: ARGV[1] the generation's base key prefix '{P:g<generation>}:',
-- ARGV[2] the edge ids concatenated (64 characters each: source id, target
-- id); the keys read are ARGV[1] .. 'out:' .. source id, one HMGET per
-- source for all its asked targets. A query may ask for thousands of edges:
-- their ids in one argument cost the client far less to send than one key
-- name each.
-- Returns per id, in order, the edge's packed record (fold_graph.lua; decoded
-- by adapters/redis_edge_codec.py), or "" for an edge that does not exist: an
-- array of bulk strings, which Redis and the client's parser handle in C (a
-- JSON text would escape every '/' and LF of the records on the way).
local base, ids = ARGV[1], ARGV[2]
local by_source, order = {}, {}
local count = #ids / 64
for i = 1, count do
  local at = (i - 1) * 64 + 1
  local s = string.sub(ids, at, at + 31)
  local group = by_source[s]
  if not group then
    group = {targets = {}, places = {}}
    by_source[s] = group
    order[#order + 1] = s
  end
  group.targets[#group.targets + 1] = string.sub(ids, at + 32, at + 63)
  group.places[#group.places + 1] = i
end
local rows = {}
for i = 1, count do rows[i] = '' end
for _, s in ipairs(order) do
  local group = by_source[s]
  local targets = group.targets
  -- In steps: unpack() is bounded by the Lua stack.
  for first = 1, #targets, 1000 do
    local last = math.min(first + 999, #targets)
    local got = redis.call('HMGET', base .. 'out:' .. s, unpack(targets, first, last))
    for k = first, last do
      if got[k - first + 1] then rows[group.places[k]] = got[k - first + 1] end
    end
  end
end
return rows
