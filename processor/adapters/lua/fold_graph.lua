-- Part of fold.lua (adapters/redis_scripts.py joins fold.lua, fold_graph.lua and
-- fold_columns.lua into one script): the batch's dataset nodes and edges.
--
-- An edge lives in its ends' adjacency hashes (docs/redis.md): the field
-- <target id> of `out:<source id>` holds the whole record, packed, and the
-- field <source id> of `in:<target id>` its lastSeen, so that a query level
-- is one read per frontier node and decides visibility without a per-edge
-- key. The packed record is
--   firstSeen .. runRank .. LF .. runId .. LF .. events .. LF .. mark .. LF .. jobs
-- where firstSeen and the rank's leading eventTime (which is lastSeen: the
-- newest rank holds the newest eventTime) have the fixed width of a
-- normalised time, the jobs are their JSON fields joined by LF (JSON never
-- holds a raw LF), and `mark` is the edge's only event mark while it has one:
-- the set `em:<edge id>` is only created for a second one, which spares the
-- key for the many edges seen once without losing the exact count.

-- A node's record is also kept as one JSON value [namespace, name, internal
-- "0"|"1", type | null] in the hash `nr`, so that a query level reads the
-- records of all the nodes it keeps with one HMGET (expand.lua).
local records_key = base .. 'nr'
for id, n in pairs(batch.nodes) do
  local nk = base .. 'n:' .. id
  local created = redis.call('HSETNX', nk, 'ns', n[1]) == 1
  if created then
    redis.call('HSET', nk, 'name', n[2], 'int', tostring(n[3]))
  end
  local typed = false
  if n[4] ~= null then
    local cur = redis.call('HGET', nk, 'tk')
    if (not cur) or n[5] > cur then
      redis.call('HSET', nk, 'ty', n[4], 'tk', n[5])
      typed = true
    end
  end
  if created or typed then
    local r = redis.call('HMGET', nk, 'ns', 'name', 'int', 'ty')
    redis.call('HSET', records_key, id, cjson.encode({r[1], r[2], r[3] or '0', r[4] or null}))
  end
end

local count_key, nodes_key, names_key = base .. 'ecount', base .. 'nodes', base .. 'names'

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

-- The LF-separated parts of a packed record: {firstSeen .. rank, runId,
-- events, mark, job, job, ...}.
local function parts_of(rec)
  local out, i = {}, 1
  while true do
    local j = string.find(rec, '\n', i, true)
    if not j then
      out[#out + 1] = string.sub(rec, i)
      return out
    end
    out[#out + 1] = string.sub(rec, i, j - 1)
    i = j + 1
  end
end

for _, e in ipairs(batch.edges) do
  local sid, tid = e[1], e[2]
  local eid = sid .. tid
  local out_key = base .. 'out:' .. sid
  local rid = e[6]
  if rid == null then rid = '' end
  local marks, jobs = e[7], e[8]
  local cur = redis.call('HGET', out_key, tid)
  if not cur then
    -- Events are counted by their marks: one inline, more in `em:`.
    local n, mark = #marks, ''
    if n == 1 then
      mark = marks[1]
    elseif n > 1 then
      n = call_all('SADD', base .. 'em:' .. eid, marks, 1000)
    end
    for _, job in ipairs(jobs) do
      redis.call('HSET', base .. 'j:' .. redis.sha1hex(job), eid, '')
    end
    local rec = e[3] .. e[5] .. '\n' .. rid .. '\n' .. n .. '\n' .. mark
    if #jobs > 0 then rec = rec .. '\n' .. table.concat(jobs, '\n') end
    redis.call('HSET', out_key, tid, rec)
    redis.call('HSET', base .. 'in:' .. tid, sid, e[4])
    redis.call('INCR', count_key)
    -- A node joins `nodes` and the name index with its first edge.
    if redis.call('SADD', nodes_key, sid, tid) > 0 then index_names(sid, tid) end
  else
    local p = parts_of(cur)
    local fs, rk = string.sub(p[1], 1, 27), string.sub(p[1], 28)
    local n, mark = tonumber(p[3]), p[4]
    local changed = false
    -- SADD says how many marks are new to this edge: the exact event count,
    -- even for an event whose dedup key has expired.
    if mark ~= '' then
      local fresh = {}
      for _, m in ipairs(marks) do
        if m ~= mark then fresh[#fresh + 1] = m end
      end
      if #fresh > 0 then
        fresh[#fresh + 1] = mark
        n = n + call_all('SADD', base .. 'em:' .. eid, fresh, 1000) - 1
        mark = ''
        changed = true
      end
    else
      local added = call_all('SADD', base .. 'em:' .. eid, marks, 1000)
      if added > 0 then
        n = n + added
        changed = true
      end
    end
    if e[3] < fs then fs = e[3]; changed = true end
    if e[5] > rk then
      redis.call('HSET', base .. 'in:' .. tid, sid, e[4])
      rk = e[5]
      p[2] = rid
      changed = true
    end
    -- A job new to the edge joins its `j:` hash (field: the edge id).
    local has = {}
    for i = 5, #p do has[p[i]] = true end
    for _, job in ipairs(jobs) do
      if not has[job] then
        has[job] = true
        p[#p + 1] = job
        redis.call('HSET', base .. 'j:' .. redis.sha1hex(job), eid, '')
        changed = true
      end
    end
    if changed then
      p[1], p[3], p[4] = fs .. rk, n, mark
      redis.call('HSET', out_key, tid, table.concat(p, '\n'))
    end
  end
end
