-- The dedup window (docs/redis.md, "The dedup window"): the functions that
-- fold.lua, seen.lua and clear_rejected.lua share (adapters/redis_scripts.py
-- puts this file before each). processor/core/dedup_window.py is the reference
-- of the arithmetic; its constants are repeated here.
--
-- Keys, under the generation's base:
--   'dw'                hash, per live bucket x: 's<x>' the shard counts of its
--                       segments ("1,64"), 'n<x>' its events, 'c<x>' the events
--                       of its last segment, 't<x>' when it opened
--   'dd:<x>.<j>:<s>'    set (intset) of the members of shard s of segment j of
--                       bucket x, expiring at the bucket's end plus the TTL
--   'dt:<token>:<hash>' the flags a batch's call returned, for its retries
-- A member is a decimal integer below 2^63: 60 bits of the content hash, then
-- the outcome as its last digit (1 accepted, 2 ignored, 3 rejected).
local DW_TARGET, DW_FULL, DW_GROWTH, DW_MAX = 256, 400, 64, 16777216
local DW_CODES = {a = 1, i = 2, r = 3}
local DW_LETTERS = {'a', 'i', 'r'}

-- 24 shard key bits and the two parts of the member stem, from the hash's hex
-- digits (a string that is not hex is looked up by its sha1).
local function dw_key(h)
  if #h < 22 or not string.find(h, '^%x+$') then
    h = redis.sha1hex(h)
  end
  return tonumber(string.sub(h, 1, 6), 16),
    tonumber(string.sub(h, 7, 15), 16) % 8589934592 + 1,
    tonumber(string.sub(h, 16, 22), 16) % 134217728
end

-- Decimal digits, not arithmetic: a Lua number is exact only to 2^53.
local function dw_member(hi, lo, code)
  return string.format('%d%09d', hi, lo * 4 + code)
end

local function dw_pow2(n)
  local s = 1
  while s < n and s < DW_MAX do
    s = s * 2
  end
  return s
end

local function dw_segments(w, x, list)
  local j = 0
  for s in string.gmatch(list, '%d+') do
    w.segs[#w.segs + 1] = {prefix = w.base .. 'dd:' .. x .. '.' .. j .. ':', shards = tonumber(s)}
    j = j + 1
  end
end

-- The window as of `now`: the segments of every bucket a lookup checks (the
-- live ones, and the next one, which a worker whose clock is ahead may have
-- opened). The meta hash is read once per call.
local function dw_window(base, now, ttl, per_ttl)
  local width = math.max(1, math.ceil(ttl / per_ttl))
  local w = {
    base = base, now = now, ttl = ttl, per_ttl = per_ttl, width = width,
    bucket = math.floor(now / width), meta_key = base .. 'dw', meta = {}, segs = {},
    expiring = {}, dropped = {},
  }
  local raw = redis.call('HGETALL', w.meta_key)
  for i = 1, #raw, 2 do
    w.meta[raw[i]] = raw[i + 1]
  end
  for x = w.bucket - per_ttl, w.bucket + 1 do
    local list = w.meta['s' .. x]
    if list then
      dw_segments(w, x, list)
    end
  end
  return w
end

-- The outcome code under which the window holds this key (0: none), and the
-- set that holds it.
local function dw_find(w, kb, hi, lo)
  local m1, m2, m3 = dw_member(hi, lo, 1), dw_member(hi, lo, 2), dw_member(hi, lo, 3)
  for _, seg in ipairs(w.segs) do
    local key = seg.prefix .. (kb % seg.shards)
    local found = redis.call('SMISMEMBER', key, m1, m2, m3)
    for c = 1, 3 do
      if found[c] == 1 then
        return c, key
      end
    end
  end
  return 0, nil
end

-- The segment new members go to: the last of the current bucket, which is
-- opened (sized from the previous bucket's count) if no call opened it yet.
local function dw_current(w)
  if w.cur then
    return w.cur
  end
  local b = w.bucket
  local list = w.meta['s' .. b]
  if not list then
    list = string.format('%d', dw_pow2((tonumber(w.meta['n' .. (b - 1)]) or 0) / DW_TARGET))
    w.meta['n' .. b], w.meta['c' .. b], w.meta['t' .. b] = '0', '0', tostring(w.now)
    dw_segments(w, b, list)
    -- Fields of buckets no lookup checks any more (the one before the
    -- oldest live bucket still sizes nothing: the current one is open).
    for f in pairs(w.meta) do
      local x = tonumber(string.sub(f, 2))
      if x and x < b - w.per_ttl then
        w.dropped[#w.dropped + 1] = f
      end
    end
  end
  local index, last = -1, 1
  for s in string.gmatch(list, '%d+') do
    index, last = index + 1, tonumber(s)
  end
  w.cur = {
    list = list, index = index, shards = last,
    count = tonumber(w.meta['c' .. b]), total = tonumber(w.meta['n' .. b]),
    opened = w.meta['t' .. b], expire = (b + 1) * w.width + w.ttl,
    prefix = w.base .. 'dd:' .. b .. '.' .. index .. ':',
  }
  return w.cur
end

-- Add a member to the current segment; a full segment is followed by one
-- sized for the rest of the bucket at the rate seen since it opened.
local function dw_add(w, kb, member)
  local cur = dw_current(w)
  local key = cur.prefix .. (kb % cur.shards)
  redis.call('SADD', key, member)
  if not w.expiring[key] then
    redis.call('EXPIREAT', key, string.format('%d', cur.expire))
    w.expiring[key] = true
  end
  cur.count, cur.total = cur.count + 1, cur.total + 1
  if cur.count >= cur.shards * DW_FULL then
    local rate = cur.total / math.max(w.now - tonumber(cur.opened), 1)
    local projected = rate * math.max((w.bucket + 1) * w.width - w.now, 0)
    local shards = math.min(
      math.max(dw_pow2(projected / DW_TARGET), cur.shards), cur.shards * DW_GROWTH, DW_MAX
    )
    cur.index, cur.shards, cur.count = cur.index + 1, shards, 0
    cur.list = cur.list .. ',' .. string.format('%d', shards)
    cur.prefix = w.base .. 'dd:' .. w.bucket .. '.' .. cur.index .. ':'
    w.segs[#w.segs + 1] = {prefix = cur.prefix, shards = shards}
  end
end

-- Write back what dw_add changed in the meta hash.
local function dw_save(w)
  local cur = w.cur
  if not cur then
    return
  end
  local b = w.bucket
  redis.call('HSET', w.meta_key, 's' .. b, cur.list, 'n' .. b, string.format('%d', cur.total),
    'c' .. b, string.format('%d', cur.count), 't' .. b, cur.opened)
  if #w.dropped > 0 then
    redis.call('HDEL', w.meta_key, unpack(w.dropped))
  end
end
