-- A whole lineage walk in one call (adapters/redis_reader.py, the answer of
-- core.queries' upstream, downstream, impact and job lineage): breadth-first
-- from the roots, level by level, each level's new neighbours ordered by node
-- id and cut to the room left under the node cap, exactly as
-- core.graph_reader.walk_levels does with one expand.lua call per level; then
-- the packed records of the edges met. The known set stays in the script,
-- so no level resends it, and nothing else but the answer travels.
-- (adjacency.lua is put before this part.)
--
-- KEYS[1] 'edel', KEYS[2] 'ndel' of the generation (docs/redis.md).
-- ARGV[1] the generation's base key prefix '{P:g<generation>}:', ARGV[2]
-- 'down' | 'up', ARGV[3] visibility floor ('' or the retention cutoff),
-- ARGV[4] depth, ARGV[5] the node cap (roots included), ARGV[6] the roots'
-- ids concatenated (32 characters each, distinct, in id order).
--
-- Returns an array: truncated (0 | 1); the new nodes' ids concatenated, in
-- walk order; their records as one JSON array text (`nr` values: [namespace,
-- name, internal "0"|"1", type | null]); how many new nodes each level took
-- (an array of integers); the met edges' source ids and target ids, each
-- concatenated; then each met edge's packed record (fold_graph.lua), in the
-- same order. An edge whose record is missing is left out.
local base, down, floor = ARGV[1], ARGV[2] == 'down', ARGV[3]
local depth, cap, roots = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]
local visible_of = visible_neighbours(base, down, floor, KEYS[1], KEYS[2])

local known, count, frontier = {}, 0, {}
for i = 1, #roots, 32 do
  local r = string.sub(roots, i, i + 31)
  known[r] = true
  count = count + 1
  frontier[count] = r
end

local new_ids, new_recs, sizes = {}, {}, {}
-- Met edges grouped by source: the records are read with one HMGET per source.
-- (Counters instead of #t in the loops: # is a search in Lua 5.1.)
local by_source, sources, n_sources = {}, {}, 0
local function meet(s, t)
  local targets = by_source[s]
  if not targets then
    targets = {}
    by_source[s] = targets
    n_sources = n_sources + 1
    sources[n_sources] = s
  end
  targets[#targets + 1] = t
end

local truncated, level = 0, 0
while #frontier > 0 and level < depth and truncated == 0 do
  local room = math.max(cap - count, 0)
  local links, candidates, seen, n = {}, {}, {}, 0
  for i, f in ipairs(frontier) do
    local visible = visible_of(f)
    for _, m in ipairs(visible) do
      if not known[m] and not seen[m] then
        seen[m] = true
        n = n + 1
        candidates[n] = m
      end
    end
    links[i] = visible
  end
  table.sort(candidates)
  if n > room then truncated = 1 end
  -- The ids are known before any record is read: cut nodes' records never are.
  local kept, next_frontier = {}, {}
  local take_n = math.min(room, n)
  local records = node_records(base, candidates, take_n)
  for k = 1, take_n do
    local r = records[k]
    if r then
      local m = candidates[k]
      kept[m] = true
      next_frontier[#next_frontier + 1] = m
      new_ids[#new_ids + 1] = m
      new_recs[#new_recs + 1] = r
    end
  end
  level = level + 1
  for i, f in ipairs(frontier) do
    if down then
      -- Every edge met from f has f as its source: one group per f.
      local targets, k = {}, 0
      for _, m in ipairs(links[i]) do
        if known[m] or kept[m] then
          k = k + 1
          targets[k] = m
        end
      end
      if k > 0 then
        by_source[f] = targets
        n_sources = n_sources + 1
        sources[n_sources] = f
      end
    else
      for _, m in ipairs(links[i]) do
        if known[m] or kept[m] then meet(m, f) end
      end
    end
  end
  for _, m in ipairs(next_frontier) do known[m] = true end
  count = count + #next_frontier
  sizes[level] = #next_frontier
  frontier = next_frontier
end

-- The records go into the reply as they are read, after its six heads.
local srcs, tgts, n_edges = {}, {}, 0
local reply = {false, false, false, false, false, false}
for _, s in ipairs(sources) do
  local targets = by_source[s]
  -- In steps: unpack() is bounded by the Lua stack.
  for first = 1, #targets, 1000 do
    local last = math.min(first + 999, #targets)
    local got = redis.call('HMGET', base .. 'out:' .. s, unpack(targets, first, last))
    for k = first, last do
      local r = got[k - first + 1]
      if r then
        n_edges = n_edges + 1
        srcs[n_edges] = s
        tgts[n_edges] = targets[k]
        reply[6 + n_edges] = r
      end
    end
  end
end
reply[1], reply[2], reply[3] = truncated, table.concat(new_ids), '[' .. table.concat(new_recs, ',') .. ']'
reply[4], reply[5], reply[6] = sizes, table.concat(srcs), table.concat(tgts)
return reply
