-- The visible neighbours of a dataset, for the lineage queries' scripts
-- (expand.lua, walk.lua; adapters/redis_scripts.py puts this part before
-- them).
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

-- visible_neighbours(...) returns visible_of: visible_of(f) is the array of
-- the ids of the visible neighbours of the dataset f, in the hash's order
-- (when nothing can hide an edge, the HKEYS reply itself: no per-neighbour
-- work). base: the generation's key prefix; down: the walk's direction;
-- floor: '' or the retention cutoff; edel_key, ndel_key: the tombstone sets.
local function visible_neighbours(base, down, floor, edel_key, ndel_key)
  local side, near_field, far_field = 'in:', 'din', 'dout'
  if down then side, near_field, far_field = 'out:', 'dout', 'din' end
  local edge_tombstoned = members_of(edel_key)
  local node_tombstoned = members_of(ndel_key)
  -- Without tombstones nor a floor nothing can hide an edge: the ids suffice.
  if floor == '' and not edge_tombstoned and not node_tombstoned then
    return function(f) return redis.call('HKEYS', base .. side .. f) end
  end
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
  return function(f)
    local visible = {}
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
      if ls > hidden then visible[#visible + 1] = m end
    end
    return visible
  end
end

-- node_records(base, ids, n) returns the node records (`nr`, fold_graph.lua)
-- of ids[1..n], aligned with them (false where a node has none), read with
-- one HMGET per thousand ids.
local function node_records(base, ids, n)
  local records = {}
  for first = 1, n, 1000 do
    local last = math.min(first + 999, n)
    local got = redis.call('HMGET', base .. 'nr', unpack(ids, first, last))
    for k = first, last do records[k] = got[k - first + 1] end
  end
  return records
end
