-- Switches the current-generation pointer to a rebuilt generation, only if
-- the rebuild covers everything folded into the current one (processor/rebuild.py).
--
-- ARGV[1] key prefix, ARGV[2] the generation the rebuild started from,
-- ARGV[3] the rebuilt generation, ARGV[4] JSON {"topic/partition": the
-- rebuild's next offset}.
--
-- Every fold reads the pointer inside its own atomic call, so after this
-- script no fold lands in the old generation: if the rebuild has read past
-- the highest offset folded there on every partition, the new generation
-- holds everything the old one does, and the live workers carry on into it.
-- Returns {1, ''} when switched, else {0, why}.
local prefix, from, to = ARGV[1], ARGV[2], ARGV[3]
local positions = cjson.decode(ARGV[4])
local current = redis.call('GET', prefix .. ':generation')
if current ~= from then
  return {0, 'the current generation is ' .. tostring(current) .. ', not ' .. from}
end
local folded = redis.call('HGETALL', '{' .. prefix .. ':g' .. from .. '}:folded')
for i = 1, #folded, 2 do
  local next_offset = positions[folded[i]]
  if next_offset == nil or tonumber(folded[i + 1]) >= next_offset then
    return {0, folded[i] .. ' is folded up to ' .. folded[i + 1]}
  end
end
redis.call('SET', prefix .. ':generation', to)
return {1, ''}
