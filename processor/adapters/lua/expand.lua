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
-- A frontier node's neighbours are the fields of its adjacency hash (`out:`
-- downstream, `in:` upstream: one read per frontier node). An edge is visible
-- when its lastSeen is after the latest of: its own delete tombstone (del of
-- `e:`), its source's dout, its target's din, and the floor; the same rule as
-- core.snapshot.EdgeRecord.shown (normalised times have one width, so string
-- order is time order). lastSeen is the value of the `in:` field and
-- characters 28 to 54 of the packed record in `out:` (fold_graph.lua). The
-- sets 'edel' and 'ndel' list the edges and nodes that carry a tombstone, so
-- without a floor and tombstones only the neighbour ids are read.
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
local side, near_field, far_field = 'in:', 'din', 'dout'
if down then side, near_field, far_field = 'out:', 'dout', 'din' end

-- Membership in a tombstone set: loaded once when small, else asked per id;
-- nil when the set is empty (nothing is tombstoned).
local function members_of(key)
  local size = redis.call('SCARD', key)
  if size == 0 then return nil end
  if size > 1000 then
    return function(id) return redis.call('SISMEMBER', key, id) == 1 end
  end
  local set = {}
  for _, id in ipairs(redis.call('SMEMBERS', key)) do set[id] = true end
  return function(id) return set[id] == true end
end
local edge_tombstoned = members_of(KEYS[1])
local node_tombstoned = members_of(KEYS[2])
-- Without tombstones nor a floor nothing can hide an edge: the ids suffice.
local ids_only = floor == '' and not edge_tombstoned and not node_tombstoned

local far_cache = {}
local function far_tombstone(m)
  local t = far_cache[m]
  if t == nil then
    t = ''
    if node_tombstoned and node_tombstoned(m) then
      t = redis.call('HGET', base .. 'n:' .. m, far_field) or ''
    end
    far_cache[m] = t
  end
  return t
end

local known = {}
for i = 1, #known_ids, 32 do known[string.sub(known_ids, i, i + 31)] = true end

local links, candidates, seen = {}, {}, {}
local function take(visible, m)
  visible[#visible + 1] = m
  if not known[m] and not seen[m] then
    seen[m] = true
    candidates[#candidates + 1] = m
  end
end

for i = 1, #frontier, 32 do
  local f = string.sub(frontier, i, i + 31)
  local visible = {}
  if ids_only then
    for _, m in ipairs(redis.call('HKEYS', base .. side .. f)) do take(visible, m) end
  else
    local near = floor
    if node_tombstoned and node_tombstoned(f) then
      local t = redis.call('HGET', base .. 'n:' .. f, near_field)
      if t and t > near then near = t end
    end
    local row = redis.call('HGETALL', base .. side .. f)
    for j = 1, #row, 2 do
      local m, v = row[j], row[j + 1]
      local ls = v
      if down then ls = string.sub(v, 28, 54) end
      local hidden = near
      local far = far_tombstone(m)
      if far > hidden then hidden = far end
      if edge_tombstoned then
        local eid = down and (f .. m) or (m .. f)
        if edge_tombstoned(eid) then
          local d = redis.call('HGET', base .. 'e:' .. eid, 'del')
          if d and d > hidden then hidden = d end
        end
      end
      if ls > hidden then take(visible, m) end
    end
  end
  links[#links + 1] = f
  links[#links + 1] = visible
end

table.sort(candidates)
local truncated = 0
if #candidates > room then truncated = 1 end
-- The kept nodes' records, one HMGET of `nr` (fold_graph.lua) per thousand:
-- their JSON values go into the reply as they are.
local kept, nodes = {}, {}
local take_n = math.min(room, #candidates)
for first = 1, take_n, 1000 do
  local last = math.min(first + 999, take_n)
  local got = redis.call('HMGET', base .. 'nr', unpack(candidates, first, last))
  for k = first, last do
    local r = got[k - first + 1]
    if r then
      local m = candidates[k]
      kept[m] = true
      nodes[#nodes + 1] = '"' .. m .. '",' .. r
    end
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
