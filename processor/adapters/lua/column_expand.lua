-- One level of a column lineage walk (adapters/redis_columns.py,
-- RedisColumnReader): the column edges into (upstream) or out of (downstream)
-- the given columns. Column edges are kept per dataset pair (lua/fold_columns.lua),
-- so the pairs of each dataset are read here and only the asked columns' edges
-- leave Redis: a dataset's columns may feed dozens of datasets.
--
-- ARGV[1] the generation's base key prefix '{P:g<generation>}:', ARGV[2] 'u'
-- (upstream) or 'd' (downstream), then dataset id, field ('' for the whole
-- dataset) for each column.
-- Returns a flat list: source id, target id, pair field, packed value, ...
local base, up = ARGV[1], ARGV[2] == 'u'
local wanted, ids = {}, {}
for i = 3, #ARGV, 2 do
  local id = ARGV[i]
  local w = wanted[id]
  if not w then w = {}; wanted[id] = w; ids[#ids + 1] = id end
  w[ARGV[i + 1]] = true
end
local index = base .. (up and 'csi:' or 'cso:')
local out = {}
for _, id in ipairs(ids) do
  local w = wanted[id]
  for _, other in ipairs(redis.call('SMEMBERS', index .. id)) do
    local s, t = id, other
    if up then s, t = other, id end
    local row = redis.call('HGETALL', base .. 'cp:' .. s .. t)
    for i = 1, #row, 2 do
      local f = row[i]
      local sep = string.find(f, '\0', 1, true)
      local side
      if up then side = string.sub(f, sep + 1) else side = string.sub(f, 1, sep - 1) end
      if w[side] then
        out[#out + 1] = s; out[#out + 1] = t; out[#out + 1] = f; out[#out + 1] = row[i + 1]
      end
    end
  end
end
return out
