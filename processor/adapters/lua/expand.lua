-- One breadth-first level of a lineage query (adapters/redis_reader.py), in
-- one round trip: the visible neighbours of every frontier node, the level cut
-- to the room left under the node cap, and the records of the kept neighbours.
--
-- KEYS[1] 'edel', KEYS[2] 'ndel' of the generation (docs/redis.md).
-- ARGV[1] the generation's base key prefix '{P:g<generation>}:', to which the
-- node and edge ids are appended ('in:', 'out:', 'n:', 'e:'), or 'nr', ARGV[2]
-- 'down' | 'up', ARGV[3] visibility floor ('' or a normalised RFC 3339 time:
-- the retention cutoff), ARGV[4] the frontier's node ids concatenated (32
-- characters each: one argument is far cheaper for the client to send than
-- thousands), ARGV[5] the ids already in the result, concatenated, ARGV[6] how
-- many new nodes the result may still take.
--
-- The visibility of an edge is adjacency.lua's, which is put before this
-- part.
--
-- New neighbours are ordered by node id and cut to the room: the ids are
-- known before any record is read, so the records of cut nodes never are.
--
-- Returns one JSON text (cheaper to send and decode than nested replies),
-- [links, nodes, truncated]:
--   links: [frontier id, [neighbour id, ...], ...]: visible edges whose far
--          end is in the result (known, or new and kept)
--   nodes: [id, [namespace, name, internal "0"|"1", type | null], ...] of the
--          kept new neighbours
--   truncated: 1 when new neighbours were cut, else 0
-- (An empty Lua table encodes as {}: the reader reads it as an empty list.)
local base, down, floor = ARGV[1], ARGV[2] == 'down', ARGV[3]
local frontier, known_ids, room = ARGV[4], ARGV[5], tonumber(ARGV[6])
local visible_of = visible_neighbours(base, down, floor, KEYS[1], KEYS[2])

local known = {}
for i = 1, #known_ids, 32 do known[string.sub(known_ids, i, i + 31)] = true end

local links, candidates, seen = {}, {}, {}
for i = 1, #frontier, 32 do
  local f = string.sub(frontier, i, i + 31)
  local visible = visible_of(f)
  for _, m in ipairs(visible) do
    if not known[m] and not seen[m] then
      seen[m] = true
      candidates[#candidates + 1] = m
    end
  end
  links[#links + 1] = f
  links[#links + 1] = visible
end

table.sort(candidates)
local truncated = 0
if #candidates > room then truncated = 1 end
-- The kept nodes' records: their JSON values go into the reply as they are.
local kept, nodes = {}, {}
local take_n = math.min(room, #candidates)
local records = node_records(base, candidates, take_n)
for k = 1, take_n do
  local r = records[k]
  if r then
    local m = candidates[k]
    kept[m] = true
    nodes[#nodes + 1] = '"' .. m .. '",' .. r
  end
end
for i = 2, #links, 2 do
  local all, inside = links[i], {}
  for _, m in ipairs(all) do
    if known[m] or kept[m] then inside[#inside + 1] = m end
  end
  links[i] = inside
end
-- A Lua table that is empty encodes as {}: the reader reads it as an empty list.
return '[' .. cjson.encode(links) .. ',[' .. table.concat(nodes, ',') .. '],' .. truncated .. ']'
