-- One step of the retention sweep (adapters/redis_retention.py): removes the
-- edges into the datasets of the next SSCAN chunk of the nodes set whose
-- lastSeen is not after the floor, and the datasets left without any edge.
--
-- KEYS[1] 'ecount', KEYS[2] 'nodes', KEYS[3] 'names', KEYS[4] 'edel',
-- KEYS[5] 'ndel' of the generation (docs/redis.md).
-- ARGV[1] the generation's base key prefix '{P:g<generation>}:', to which the
-- ids this call finds are appended ('out:', 'in:', 'e:', 'em:', 'j:', 'n:'),
-- and 'nr', ARGV[2] floor (normalised RFC 3339, not empty), ARGV[3] SSCAN
-- cursor, ARGV[4] SSCAN COUNT.
-- Returns {next cursor, edges removed, datasets removed}.
--
-- Every edge is found once, through its target: the `in:` hash of a dataset
-- maps each source id to the edge's lastSeen; the jobs are the LF-joined tail
-- of the packed record in the source's `out:` hash (fold_graph.lua).
-- Delete tombstones newer than the floor are kept (the `e:` hash of an edge,
-- the `dout` / `din` fields of a tombstone-only node hash, which the fold and
-- the readers treat as "no dataset"): they still hide events that arrive late
-- with a lastSeen between the floor and the delete. Older tombstones can only
-- hide what retention hides anyway.
local count_key, nodes_key, names_key = KEYS[1], KEYS[2], KEYS[3]
local edel_key, ndel_key = KEYS[4], KEYS[5]
local base, floor = ARGV[1], ARGV[2]
local scan = redis.call('SSCAN', nodes_key, ARGV[3], 'COUNT', ARGV[4])
local edges, nodes = 0, 0
local touched = {}

local function remove_edge(s, t)
  local eid = s .. t
  local rec = redis.call('HGET', base .. 'out:' .. s, t)
  if rec then
    -- The jobs: every LF-separated part after the fourth (each a JSON array).
    local i, part = 1, 0
    while true do
      local j = string.find(rec, '\n', i, true)
      part = part + 1
      if part > 4 then
        local job = string.sub(rec, i, j and (j - 1) or -1)
        redis.call('HDEL', base .. 'j:' .. redis.sha1hex(job), eid)
      end
      if not j then break end
      i = j + 1
    end
  end
  redis.call('HDEL', base .. 'out:' .. s, t)
  redis.call('HDEL', base .. 'in:' .. t, s)
  redis.call('DEL', base .. 'em:' .. eid)
  local ek = base .. 'e:' .. eid
  local del = redis.call('HGET', ek, 'del')
  if del and del <= floor then
    redis.call('DEL', ek)
    redis.call('SREM', edel_key, eid)
  end
  touched[s] = true
  touched[t] = true
  edges = edges + 1
end

for _, t in ipairs(scan[2]) do
  local row = redis.call('HGETALL', base .. 'in:' .. t)
  for i = 1, #row, 2 do
    if row[i + 1] <= floor then remove_edge(row[i], t) end
  end
end
if edges > 0 then redis.call('DECRBY', count_key, edges) end

for nid in pairs(touched) do
  if redis.call('EXISTS', base .. 'out:' .. nid, base .. 'in:' .. nid) == 0 then
    local nk = base .. 'n:' .. nid
    local n = redis.call('HMGET', nk, 'ns', 'name', 'dout', 'din')
    if n[1] then
      redis.call('ZREM', names_key, n[1] .. '\0' .. n[2])
      nodes = nodes + 1
    end
    redis.call('DEL', nk)
    redis.call('HDEL', base .. 'nr', nid)
    redis.call('SREM', nodes_key, nid)
    local keep = {}
    if n[3] and n[3] > floor then keep[#keep + 1] = 'dout'; keep[#keep + 1] = n[3] end
    if n[4] and n[4] > floor then keep[#keep + 1] = 'din'; keep[#keep + 1] = n[4] end
    if #keep > 0 then
      redis.call('HSET', nk, unpack(keep))
    else
      redis.call('SREM', ndel_key, nid)
    end
  end
end

return {scan[1], edges, nodes}
