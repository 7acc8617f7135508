-- One breadth-first level of a lineage query (adapters/redis_reader.py), in
-- one round trip: the visible neighbours of every frontier node, and the
-- records of those neighbours.
--
-- ARGV[1] base key prefix, ARGV[2] 'down' | 'up', ARGV[3] visibility floor
-- ('' or an RFC 3339 time: the retention cutoff), ARGV[4] the frontier's node
-- ids concatenated (32 characters each: one argument is far cheaper for the
-- client to send than thousands).
--
-- An edge is visible when its lastSeen is after the latest of: its own delete
-- tombstone (del), its source's dout, its target's din, and the floor; the
-- same rule as core.snapshot.EdgeRecord.visible (times are normalised RFC 3339
-- strings of one width, so string order is time order).
--
-- Returns {links, nodes}:
--   links: {frontier id, {visible neighbour id, ...}, ...} in frontier order
--   nodes: {id, namespace, name, internal '0'|'1', type | false, ...}, each
--          neighbour once. A neighbour hash without 'ns' holds tombstones only:
--          it is no dataset, so its edges are skipped.
-- Only the ids and the few fields needed to order and cut a level travel;
-- the edges' attributes are read afterwards, for the kept edges only (edges.lua).
-- An edge itself is read only when something could hide it: a floor, a
-- tombstone on either end, or its own (the set 'edel' lists the edges that
-- have one; it is loaded once when small, else asked per edge).
local base, down, floor = ARGV[1], ARGV[2] == 'down', ARGV[3]
local side, near_field, far_field = 'in:', 'din', 'dout'
if down then side, near_field, far_field = 'out:', 'dout', 'din' end

local edel_key = base .. 'edel'
local edel_size = redis.call('SCARD', edel_key)
local edel = nil  -- edge id -> true, when the set is small enough to load
if edel_size <= 1000 then
  edel = {}
  if edel_size > 0 then
    for _, eid in ipairs(redis.call('SMEMBERS', edel_key)) do edel[eid] = true end
  end
end
local function has_own_tombstone(eid)
  if edel then return edel[eid] == true end
  return redis.call('SISMEMBER', edel_key, eid) == 1
end

local links, nodes = {}, {}
local far = {}  -- neighbour id -> its tombstone, or false when it is no dataset
local frontier = ARGV[4]
for i = 1, #frontier, 32 do
  local f = string.sub(frontier, i, i + 31)
  local near = redis.call('HGET', base .. 'n:' .. f, near_field) or ''
  if floor > near then near = floor end
  local kept = {}
  for _, m in ipairs(redis.call('SMEMBERS', base .. side .. f)) do
    local tomb = far[m]
    if tomb == nil then
      local r = redis.call('HMGET', base .. 'n:' .. m, 'ns', 'name', 'int', 'ty', far_field)
      if r[1] then
        tomb = r[5] or ''
        local n = #nodes
        nodes[n + 1], nodes[n + 2], nodes[n + 3] = m, r[1], r[2]
        nodes[n + 4], nodes[n + 5] = r[3] or '0', r[4]
      else
        tomb = false
      end
      far[m] = tomb
    end
    if tomb then
      local eid = down and (f .. m) or (m .. f)
      if near == '' and tomb == '' and not has_own_tombstone(eid) then
        kept[#kept + 1] = m  -- nothing can hide it
      else
        local e = redis.call('HMGET', base .. 'e:' .. eid, 'ls', 'del')
        if e[1] then
          local hidden = near
          if e[2] and e[2] > hidden then hidden = e[2] end
          if tomb > hidden then hidden = tomb end
          if e[1] > hidden then kept[#kept + 1] = m end
        end
      end
    end
  end
  links[#links + 1] = f
  links[#links + 1] = kept
end
return {links, nodes}
