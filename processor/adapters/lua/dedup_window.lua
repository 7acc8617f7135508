-- The dedup window (docs/redis.md, "The dedup window"): the functions that
-- fold.lua, seen.lua and clear_rejected.lua share (adapters/redis_scripts.py
-- puts this file before each). processor/core/dedup_window.py is the reference
-- of the arithmetic; its constants are repeated here.
--
-- Keys, under the generation's base:
--   'dw'                hash, per live bucket x: 's<x>' the shard counts of its
--                       segments ("1,64"), 'n<x>' its events, 'c<x>' the events
--                       of its last segment, 't<x>' when it opened
--   'dd:<x>.<j>:<s>'    set (intset) of the members of the events of shard s of
--                       segment j of bucket x, and 0; expires at the bucket's
--                       end plus the TTL
--   'dr:<x>.<j>:<s>'    the same for the events among them that were rejected,
--   'di:<x>.<j>:<s>'    and that were ignored
--   'dt:<token>:<hash>' the flags a batch's call returned, for its retries
-- A member is a decimal integer below 2^63 made of 62 bits of the content hash.
local DW_TARGET, DW_FULL, DW_GROWTH, DW_MAX = 256, 400, 64, 16777216
local DW_FAMILY = {r = 'dr:', i = 'di:'}

-- 24 shard key bits and the member, from the hex digits of a content hash (a
-- sha256 hex digest, 64 characters; any other string is looked up by its
-- sha1). Decimal digits, not arithmetic: a Lua number is exact only to 2^53.
local function dw_digits(h)
  return tonumber(string.sub(h, 1, 6), 16), tonumber(string.sub(h, 7, 15), 16),
    tonumber(string.sub(h, 16, 23), 16)
end

local function dw_key(h)
  local kb, hi, lo
  if #h == 64 then
    kb, hi, lo = dw_digits(h)
  end
  if not (kb and hi and lo) then
    kb, hi, lo = dw_digits(redis.sha1hex(h))
  end
  return kb, string.format('%d%09d', hi % 8589934592 + 1, lo % 536870912)
end

local function dw_pow2(n)
  local s = 1
  while s < n and s < DW_MAX do
    s = s * 2
  end
  return s
end

local function dw_segment(w, x, j, shards)
  local suffix = x .. '.' .. j .. ':'
  return {
    suffix = suffix, shards = shards, ['dd:'] = w.base .. 'dd:' .. suffix,
    ['dr:'] = w.base .. 'dr:' .. suffix, ['di:'] = w.base .. 'di:' .. suffix,
  }
end

local function dw_segments(w, x, list)
  local j = 0
  for s in string.gmatch(list, '%d+') do
    w.segs[#w.segs + 1] = dw_segment(w, x, j, tonumber(s))
    j = j + 1
  end
end

-- The key of a family ('dd:', 'dr:', 'di:') in a segment, for shard bits kb.
local function dw_set(family, seg, kb)
  return seg[family] .. (kb % seg.shards)
end

-- The window as of `now`: the segments of every bucket a lookup checks (the
-- live ones, and the next one, which a worker whose clock is ahead may have
-- opened). The meta hash is read once per call.
local function dw_window(base, now, ttl, per_ttl)
  local width = math.max(1, math.ceil(ttl / per_ttl))
  local w = {
    base = base, now = now, ttl = ttl, per_ttl = per_ttl, width = width,
    bucket = math.floor(now / width), meta_key = base .. 'dw', meta = {}, segs = {},
    dropped = {},
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

-- The segment whose set holds this member (nil: none), skipping `except`.
local function dw_find(w, kb, member, except)
  for _, seg in ipairs(w.segs) do
    if seg ~= except and redis.call('SISMEMBER', dw_set('dd:', seg, kb), member) == 1 then
      return seg
    end
  end
  return nil
end

-- The outcome letter of a member found in a segment.
local function dw_outcome(w, seg, kb, member)
  for letter, family in pairs(DW_FAMILY) do
    if redis.call('SISMEMBER', dw_set(family, seg, kb), member) == 1 then
      return letter
    end
  end
  return 'a'
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
    -- Fields of buckets no lookup checks any more.
    for f in pairs(w.meta) do
      local x = tonumber(string.sub(f, 2))
      if x and x < b - w.per_ttl then
        w.dropped[#w.dropped + 1] = f
      end
    end
  end
  local suffix = b .. '.' .. (select(2, string.gsub(list, ',', ',')) or 0) .. ':'
  for _, seg in ipairs(w.segs) do
    if seg.suffix == suffix then
      w.cur = seg
    end
  end
  w.list, w.count, w.total = list, tonumber(w.meta['c' .. b]), tonumber(w.meta['n' .. b])
  w.opened, w.expire = w.meta['t' .. b], string.format('%d', (b + 1) * w.width + w.ttl)
  return w.cur
end

-- SADD with the member 0 (no event's: theirs have ten digits or more), so
-- that the SADD that creates a set is the one that adds two members, and only
-- it sets the expiry. Returns whether the member is new to the set.
local function dw_sadd(w, key, member)
  local added = redis.call('SADD', key, member, 0)
  if added == 2 then
    redis.call('EXPIREAT', key, w.expire)
  end
  return added > 0
end

-- Mark an event seen unless the window holds it: true when it is new. The
-- current segment's SADD is its own lookup; an event found elsewhere is
-- taken out again (it stays remembered from when it was first seen).
local function dw_mark(w, kb, member, outcome)
  local cur = dw_current(w)
  local key = dw_set('dd:', cur, kb)
  if not dw_sadd(w, key, member) then
    return false
  end
  if dw_find(w, kb, member, cur) then
    redis.call('SREM', key, member)
    return false
  end
  local family = DW_FAMILY[outcome]
  if family then
    dw_sadd(w, dw_set(family, cur, kb), member)
  end
  w.count, w.total = w.count + 1, w.total + 1
  if w.count >= cur.shards * DW_FULL then
    -- Full: the next segment is sized for the rest of the bucket at the
    -- rate seen since it opened.
    local rate = w.total / math.max(w.now - tonumber(w.opened), 1)
    local projected = rate * math.max((w.bucket + 1) * w.width - w.now, 0)
    local shards = math.min(
      math.max(dw_pow2(projected / DW_TARGET), cur.shards), cur.shards * DW_GROWTH, DW_MAX
    )
    local index = select(2, string.gsub(w.list, ',', ',')) + 1
    w.list, w.count = w.list .. ',' .. string.format('%d', shards), 0
    w.cur = dw_segment(w, w.bucket, index, shards)
    w.segs[#w.segs + 1] = w.cur
  end
  return true
end

-- Write back what dw_mark changed in the meta hash.
local function dw_save(w)
  if not w.cur then
    return
  end
  local b = w.bucket
  redis.call('HSET', w.meta_key, 's' .. b, w.list, 'n' .. b, string.format('%d', w.total),
    'c' .. b, string.format('%d', w.count), 't' .. b, w.opened)
  if #w.dropped > 0 then
    redis.call('HDEL', w.meta_key, unpack(w.dropped))
  end
end
