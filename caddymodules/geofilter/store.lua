-- geofilter's shared rate limit: one call per request.
--
-- KEYS[1] the client's counter, KEYS[2] its strike counter, KEYS[3] its ban
-- ARGV[1] requests per window, ARGV[2] window (µs),
-- ARGV[3] strikes tolerated before a ban (-1: no ban), ARGV[4] ban (µs)
--
-- Returns {result, wait µs, remaining, reset µs}; result 0 allowed,
-- 1 rate limited, 2 banned.
--
-- The counter is the sliding-window estimate of the in-process limiter:
-- the count of the current and of the previous fixed window, the previous
-- one weighted by the part of it still within one window of now. Time is
-- the store's clock, the same for every instance.

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local banLimit, banWindow = tonumber(ARGV[3]), tonumber(ARGV[4])

if banLimit >= 0 then
	local ttl = redis.call('PTTL', KEYS[3])
	if ttl > 0 then
		return {2, ttl * 1000, 0, ttl * 1000}
	end
end

-- muldiv is min(floor(a*b/c), b).
local function muldiv(a, b, c)
	return math.min(math.floor(a * b / c), b)
end

-- slide counts one event against key when it fits in lim per win; it
-- returns whether it did, the wait until one would fit, and what remains.
local function slide(key, lim, win, count)
	local n = math.floor(now / win)
	local e = now - n * win
	local v = redis.call('HMGET', key, 'n', 'c', 'p')
	local at, curr, prev = tonumber(v[1]), tonumber(v[2]) or 0, tonumber(v[3]) or 0
	if at == nil or at < n - 1 then
		curr, prev = 0, 0
	elseif at == n - 1 then
		prev, curr = curr, 0
	elseif at > n then
		n, e = at, 0
	end
	if prev * (win - e) + (curr + 1) * win > lim * win then
		if curr < lim and prev > 0 then
			local e2 = win - muldiv(lim - curr - 1, win, prev)
			if e2 < win then
				return false, math.max(e2 - e, 1), 0
			end
		end
		local e2 = 0
		if curr > 0 then
			e2 = math.max(win - muldiv(lim - 1, win, curr), 0)
		end
		return false, win - e + e2, 0
	end
	curr = curr + 1
	if count then
		redis.call('HSET', key, 'n', n, 'c', curr, 'p', prev)
		redis.call('PEXPIRE', key, math.ceil(2 * win / 1000) + 1000)
	end
	local rem = math.floor((lim * win - prev * (win - e)) / win) - curr
	return true, 0, math.max(rem, 0)
end

local ok, wait, rem = slide(KEYS[1], limit, window, true)
local n = math.floor(now / window)
local reset = window - (now - n * window)
if ok then
	return {0, 0, rem, reset}
end
if banLimit >= 0 then
	local struck = false
	if banLimit > 0 then
		struck = slide(KEYS[2], banLimit, banWindow, true)
	end
	if not struck then
		redis.call('SET', KEYS[3], '1', 'PX', math.max(math.floor(banWindow / 1000), 1))
		return {2, banWindow, 0, banWindow}
	end
end
return {1, wait, 0, wait}
