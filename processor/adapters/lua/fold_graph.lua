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
-- holds a raw LF), and `mark` is the edge's only event mark while it has one.
-- From the second on, the marks live in `em:<edge id>`: a string of the
-- distinct marks as 8-byte big-endian unsigned integers, in order, so that an
-- edge keeps 8 bytes an event at any count (a Redis set would turn from an
-- intset into a hash table, about 64 bytes a member, past
-- set-max-intset-entries) and the event count stays exact: a mark already
-- there is found by binary search and not counted again.

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

-- An event mark as sent (the signed decimal of the mark minus 2^63, exact
-- only as a string: Lua numbers are doubles) -> {high 32 bits, low 32 bits}
-- of the unsigned mark. The magnitude is split at its last nine digits,
-- D = H * 10^9 + L, and H into 16-bit halves, so that every product and sum
-- below stays under 2^53, where doubles are exact.
local function mark_pair(m)
  local neg = string.byte(m, 1) == 45  -- '-'
  local digits = neg and string.sub(m, 2) or m
  local n = #digits
  local h, l = 0, tonumber(digits)
  if n > 9 then
    h, l = tonumber(string.sub(digits, 1, n - 9)), tonumber(string.sub(digits, n - 8))
  end
  local hh = math.floor(h / 65536)
  local a = hh * 1000000000  -- H's upper part times 10^9, below 2^48
  local ahi = math.floor(a / 65536)
  local lo = (a - ahi * 65536) * 65536 + (h - hh * 65536) * 1000000000 + l
  local carry = math.floor(lo / 4294967296)
  lo = lo - carry * 4294967296
  local hi = ahi + carry
  if neg then  -- 2^63 - D
    if lo > 0 then
      lo, hi = 4294967296 - lo, 2147483647 - hi
    else
      hi = 2147483648 - hi
    end
  else  -- D + 2^63
    hi = hi + 2147483648
  end
  return {hi, lo}
end

local function pair_less(a, b)
  return a[1] < b[1] or (a[1] == b[1] and a[2] < b[2])
end

-- Adds marks (as sent) to the sorted 8-byte mark string `em:<eid>`; returns
-- how many were new. Pairs are compared as numbers: Lua compares strings by
-- the locale's collation, not by bytes.
local function add_marks(eid, marks)
  local key = base .. 'em:' .. eid
  local cur = redis.call('GET', key) or ''
  local count = #cur / 8
  -- The number of stored marks before p (binary search), and whether p is one.
  local function locate(p)
    local lo, hi, p1, p2 = 1, count, p[1], p[2]
    while lo <= hi do
      local mid = math.floor((lo + hi) / 2)
      local q1, q2 = struct.unpack('>I4I4', cur, (mid - 1) * 8 + 1)
      if q1 < p1 or (q1 == p1 and q2 < p2) then lo = mid + 1
      elseif q1 ~= p1 or q2 ~= p2 then hi = mid - 1
      else return mid, true end
    end
    return lo - 1, false
  end
  local pairs_ = {}
  for _, m in ipairs(marks) do pairs_[#pairs_ + 1] = mark_pair(m) end
  table.sort(pairs_, pair_less)
  local pieces, done, added, last = {}, 0, 0, nil
  for _, p in ipairs(pairs_) do
    if not (last and last[1] == p[1] and last[2] == p[2]) then
      local before, found = locate(p)
      if not found then
        pieces[#pieces + 1] = string.sub(cur, done * 8 + 1, before * 8)
        pieces[#pieces + 1] = struct.pack('>I4I4', p[1], p[2])
        done = before
        added = added + 1
      end
    end
    last = p
  end
  if added > 0 then
    pieces[#pieces + 1] = string.sub(cur, done * 8 + 1)
    redis.call('SET', key, table.concat(pieces))
  end
  return added
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
      n = add_marks(eid, marks)
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
    -- How many marks are new to this edge: the exact event count, even for
    -- an event whose dedup key has expired.
    if mark ~= '' then
      local fresh = {}
      for _, m in ipairs(marks) do
        if m ~= mark then fresh[#fresh + 1] = m end
      end
      if #fresh > 0 then
        fresh[#fresh + 1] = mark
        n = n + add_marks(eid, fresh) - 1
        mark = ''
        changed = true
      end
    else
      local added = add_marks(eid, marks)
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
