-- Part of fold.lua (adapters/redis_scripts.py joins fold.lua, fold_graph.lua and
-- fold_columns.lua into one script): the batch's column edges.

-- Column edges (docs/design.md section 5a), in this same call so that a crash
-- or a redelivery cannot split them from the event's dataset edges. They are
-- kept per dataset pair, so the fold costs a few commands a pair, not a few a
-- column edge (layout in docs/redis.md, payload in core/column_payload.py):
-- 'cp:<source id><target id>' hashes 'source field NUL target field' (no target
-- field: the whole dataset) -> firstSeen (20 digits) .. lastSeen (20 digits) ..
-- the ascending, comma-separated indexes in 'cdict' of its jobs and
-- transformations. Every attribute is a join: min, max, set union. Indexes:
-- 'cpairs' (every pair that has column edges), 'cso:<id>' / 'csi:<id>' (the
-- datasets a dataset's columns feed / are fed by), 'cds' (dataset id -> JSON
-- [namespace, name]), 'ccount' (column edges stored), 'cdict' (job or
-- transformation field -> index, '#<index>' -> field, 'n' the last index).
local cpairs = batch.columns or {}
if #cpairs > 0 then
  local dict = base .. 'cdict'
  local vocab = batch.cv
  local global = {}
  for i = 1, #vocab, 1000 do
    local got = redis.call('HMGET', dict, unpack(vocab, i, math.min(i + 999, #vocab)))
    for k = 1, #got do global[i + k - 1] = got[k] end
  end
  for i, v in ipairs(vocab) do
    if not global[i] then
      local ix = redis.call('HINCRBY', dict, 'n', 1)
      redis.call('HSET', dict, v, ix, '#' .. ix, v)
      global[i] = ix
    end
    global[i] = tonumber(global[i])
  end
  local times = batch.ct
  local attrs = {}
  for c, list in ipairs(batch.cc) do
    local ixs = {}
    for k, v in ipairs(list) do ixs[k] = global[v + 1] end
    table.sort(ixs)
    attrs[c] = table.concat(ixs, ',')
  end
  -- Each distinct stored value of the batch, built once: the column edges of
  -- an event share their times and attributes.
  local values, cw = {}, batch.cw
  for i = 1, #cw, 3 do
    values[#values + 1] = times[cw[i] + 1] .. times[cw[i + 1] + 1] .. attrs[cw[i + 2] + 1]
  end
  -- the union of two attribute strings, ascending
  local function union(a, b)
    local seen, ixs = {}, {}
    for text in string.gmatch(a .. ',' .. b, '[^,]+') do
      local n = tonumber(text)
      if not seen[n] then seen[n] = true; ixs[#ixs + 1] = n end
    end
    table.sort(ixs)
    return table.concat(ixs, ',')
  end
  -- the join of a stored value and a new one; the old one when it already
  -- holds the new (attributes only grow, so a known column edge usually needs no write)
  local function join(old, new)
    local ofs, ols, oattr = string.sub(old, 1, 20), string.sub(old, 21, 40), string.sub(old, 41)
    local fs, ls, attr = string.sub(new, 1, 20), string.sub(new, 21, 40), string.sub(new, 41)
    if oattr ~= attr then attr = union(oattr, attr) end
    if fs > ofs then fs = ofs end
    if ls < ols then ls = ols end
    return fs .. ls .. attr
  end
  -- A pair is in 'cpairs' exactly while its hash has fields (the sweep takes
  -- it out when it empties one): a pair not in it has nothing to read.
  local known = {}
  for i = 1, #cpairs, 1000 do
    local ids = {}
    for k = i, math.min(i + 999, #cpairs) do ids[#ids + 1] = cpairs[k][1] .. cpairs[k][2] end
    local got = redis.call('SMISMEMBER', base .. 'cpairs', unpack(ids))
    for k = 1, #got do known[i + k - 1] = got[k] == 1 end
  end
  local repeats = {}
  for _, c in ipairs(batch.cr or {}) do repeats[c] = true end
  local added, fed, feeds, new_pairs, named = 0, {}, {}, {}, {}
  for c, p in ipairs(cpairs) do
    local sid, tid = p[1], p[2]
    local pk = base .. 'cp:' .. sid .. tid
    local n = #p
    local update, fresh, u = {}, 0, 0
    if known[c] or repeats[c] then
      -- the row's blocks as two lists: each column pair and its new value
      local fields, news, b = {}, {}, 3
      while b <= n do
        local value, m = values[p[b] + 1], p[b + 1]
        for k = b + 2, b + 1 + m do
          fields[#fields + 1] = p[k]; news[#news + 1] = value
        end
        b = b + 2 + m
      end
      local cur = {}
      if known[c] then
        for i = 1, #fields, 1000 do
          local got = redis.call('HMGET', pk, unpack(fields, i, math.min(i + 999, #fields)))
          for k = 1, #got do cur[i + k - 1] = got[k] end
        end
      end
      -- A column pair may come more than once (the payload is not joined):
      -- 'written' holds what this call wrote, which the next one joins with.
      local written = {}
      for k = 1, #fields do
        local field = fields[k]
        local value, old = news[k], written[field] or cur[k]
        if not old then
          fresh = fresh + 1
        elseif old ~= value then
          value = join(old, value)
        end
        if value ~= old then
          update[u + 1] = field; update[u + 2] = value; u = u + 2
          written[field] = value
        end
      end
    else
      -- a new pair named by one event: each column pair is new and comes once
      local b = 3
      while b <= n do
        local value, m = values[p[b] + 1], p[b + 1]
        for k = b + 2, b + 1 + m do
          update[u + 1] = p[k]; update[u + 2] = value; u = u + 2
        end
        fresh = fresh + m
        b = b + 2 + m
      end
    end
    if u > 0 then call_all('HSET', pk, update, 1000) end
    if fresh > 0 then
      added = added + fresh
      new_pairs[#new_pairs + 1] = sid .. tid
      -- a dataset of a pair with column edges keeps its name (the sweep drops
      -- it with its last pair), so only a new pair's datasets need one
      for _, id in ipairs({sid, tid}) do
        if not named[id] then
          named[id] = true
          redis.call('HSETNX', base .. 'cds', id, batch.cds[id])
        end
      end
      local list = feeds[sid]
      if not list then list = {}; feeds[sid] = list end
      list[#list + 1] = tid
      list = fed[tid]
      if not list then list = {}; fed[tid] = list end
      list[#list + 1] = sid
    end
  end
  if added > 0 then
    redis.call('INCRBY', base .. 'ccount', added)
    call_all('SADD', base .. 'cpairs', new_pairs, 1000)
    for id, list in pairs(feeds) do call_all('SADD', base .. 'cso:' .. id, list, 1000) end
    for id, list in pairs(fed) do call_all('SADD', base .. 'csi:' .. id, list, 1000) end
  end
end
