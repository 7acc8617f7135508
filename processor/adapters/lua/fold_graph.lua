-- Part of fold.lua (adapters/redis_scripts.py joins fold.lua, fold_graph.lua and
-- fold_columns.lua into one script): the batch's dataset nodes and edges.

for id, n in pairs(batch.nodes) do
  local nk = base .. 'n:' .. id
  if redis.call('HSETNX', nk, 'ns', n[1]) == 1 then
    redis.call('HSET', nk, 'name', n[2], 'int', tostring(n[3]))
  end
  if n[4] ~= null then
    local cur = redis.call('HGET', nk, 'tk')
    if (not cur) or n[5] > cur then
      redis.call('HSET', nk, 'ty', n[4], 'tk', n[5])
    end
  end
end

local edges_key, nodes_key, names_key = base .. 'edges', base .. 'nodes', base .. 'names'

-- ZADD the name index members ("namespace NUL name", score 0) of two nodes.
-- The batch holds every edge's endpoints (encode_batch); the node hash is only
-- a fallback, and a node known to neither is left out rather than failing the
-- batch. A member already there (same score) is left as it is.
local function index_names(a, b)
  local args = {}
  for _, id in ipairs({a, b}) do
    local n = batch.nodes[id] or redis.call('HMGET', base .. 'n:' .. id, 'ns', 'name')
    if n[1] and n[2] then
      args[#args + 1] = 0
      args[#args + 1] = n[1] .. '\0' .. n[2]
    end
  end
  if #args > 0 then redis.call('ZADD', names_key, unpack(args)) end
end

for _, e in ipairs(batch.edges) do
  local sid, tid = e[1], e[2]
  local eid = sid .. tid
  local ek = base .. 'e:' .. eid
  local rid = e[6]
  if rid == null then rid = '' end
  -- SADD says how many marks are new to this edge: the exact event count,
  -- even for an event whose dedup key has expired.
  local added = call_all('SADD', base .. 'em:' .. eid, e[7], 1000)
  local cur = redis.call('HMGET', ek, 'fs', 'ls', 'rk')
  local update = {}
  if not cur[1] then
    update = {'s', sid, 't', tid, 'fs', e[3], 'ls', e[4], 'rk', e[5], 'rid', rid, 'n', added}
    redis.call('SADD', edges_key, eid)
    redis.call('SADD', base .. 'out:' .. sid, tid)
    redis.call('SADD', base .. 'in:' .. tid, sid)
    -- A node joins `nodes` and the name index with its first edge.
    if redis.call('SADD', nodes_key, sid, tid) > 0 then index_names(sid, tid) end
  else
    if added > 0 then redis.call('HINCRBY', ek, 'n', added) end
    if e[3] < cur[1] then update[#update + 1] = 'fs'; update[#update + 1] = e[3] end
    if e[4] > cur[2] then update[#update + 1] = 'ls'; update[#update + 1] = e[4] end
    if e[5] > cur[3] then
      update[#update + 1] = 'rk'; update[#update + 1] = e[5]
      update[#update + 1] = 'rid'; update[#update + 1] = rid
    end
  end
  -- A job new to the edge joins its `j:` set: every job of a new edge (written
  -- with the edge's other fields), else those HSETNX finds new.
  for _, job in ipairs(e[8]) do
    if not cur[1] then
      update[#update + 1] = job
      update[#update + 1] = ''
      redis.call('SADD', base .. 'j:' .. redis.sha1hex(job), eid)
    elseif redis.call('HSETNX', ek, job, '') == 1 then
      redis.call('SADD', base .. 'j:' .. redis.sha1hex(job), eid)
    end
  end
  if #update > 0 then call_all('HSET', ek, update, 1000) end
end

