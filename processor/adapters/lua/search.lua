-- One chunk of a dataset search over the name index (redis_search.search_datasets).
--
-- KEYS[1] the `names` ZSET ("namespace NUL name" members, every score 0).
-- ARGV[1] where the chunk starts, as a ZRANGEBYLEX bound: "-" for the first
--         chunk, "(" .. the last member of the previous chunk after that;
-- ARGV[2] chunk size (members read by this call);
-- ARGV[3] needle, already lowercased (ASCII) and free of NUL;
-- ARGV[4] matches found by the previous chunks (the running count);
-- ARGV[5], ARGV[6] the page: the matches whose running index i has
--         ARGV[5] <= i < ARGV[6] are returned.
--
-- A member matches when the needle is a plain substring of it, lowercased by
-- string.lower: ASCII only (Redis runs Lua in the C locale), so non-ASCII
-- letters match case-sensitively. A needle without NUL cannot straddle the
-- separator, so that is "in the namespace or in the name".
--
-- Returns {matches in this chunk, members read, last member read ("" if none),
-- page members...}. Fewer members read than the chunk size: the end was reached.
-- Continuing from the last member (not from a rank) means a concurrent fold
-- that adds names cannot make the scan see a member twice or skip one.
local members = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[1], '+', 'LIMIT', 0, tonumber(ARGV[2]))
local needle = ARGV[3]
local index, first, stop = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local lower, find = string.lower, string.find
local out = {0, #members, members[#members] or ''}
for i = 1, #members do
  local m = members[i]
  if find(lower(m), needle, 1, true) then
    if index >= first and index < stop then out[#out + 1] = m end
    index = index + 1
  end
end
out[1] = index - tonumber(ARGV[4])
return out
