package geofilter

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/redis/go-redis/v9"
)

// Automatic pipelining of the per-request script calls. A request's call
// costs Redis little; what costs is one write and one read system call
// per request, and the wake-ups around them. So concurrent requests hand
// their calls to a few writer goroutines, each of which sends whatever
// has queued up as one pipeline (one write, one read) and hands every
// caller its own result. Each call is still run, and counted, by Redis
// before its request gets a verdict; only the transport is shared.

const (
	// storeWriters is how many batches may be in flight at once: while
	// one writer waits for Redis's answers, another gathers the next
	// batch. Every call goes through a writer, even with nothing to
	// batch it with: callers sending their own calls when a writer was
	// free took those writers' turns with pipelines of one, and under
	// load left the calls queued behind them waiting.
	storeWriters = 2
	// storeMaxBatch bounds one pipeline, so that one batch's write and
	// read stay short next to the timeout.
	storeMaxBatch = 256
	// storeQueueLen is how many calls may wait for a writer; a caller
	// that finds it full waits, within its timeout, like one waiting for
	// a pooled connection.
	storeQueueLen = 4096
)

var (
	errStoreTimeout = errors.New("store: no answer within the timeout")
	errStoreClosed  = errors.New("store: closed")
	errStoreBusy    = errors.New("store: too many calls waiting")
)

// The script's name and source, boxed once: a string put in an
// interface value is copied to the heap each time.
var (
	storeScriptSHA any = storeScript.Hash()
	storeScriptSrc any = storeScriptSource
)

// Call states: the writer answers a pending call; a caller that gives up
// abandons it, and the writer then recycles it.
const (
	callPending int32 = iota
	callAnswered
	callAbandoned
)

// storeCall is one request's script call, recycled through callPool
// with its buffers, its timer and its answer channel.
type storeCall struct {
	buf  []byte    // the keys, back to back
	keys [3]string // views of buf, passed by pointer (no copies)
	nkey int       // how many of keys the script is given
	args []any     // the command: EVALSHA (or EVAL) and its arguments
	cmd  *redis.IntSliceCmd
	res  [4]int64
	err  error

	state atomic.Int32
	done  chan struct{} // one token once answered
	timer *time.Timer
}

var callPool = sync.Pool{New: func() any {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &storeCall{buf: make([]byte, 0, 192), args: make([]any, 0, 16),
		done: make(chan struct{}, 1), timer: t}
}}

func getCall() *storeCall {
	c := callPool.Get().(*storeCall)
	c.state.Store(callPending)
	return c
}

func putCall(c *storeCall) {
	c.cmd, c.err = nil, nil
	clear(c.args) // drop the references to the limit's arguments
	c.args = c.args[:0]
	callPool.Put(c)
}

// setKeys points c's keys at the counter of p's client and, when the
// limit has a ban, at its strike counter and ban, cut from c's own
// buffer.
func (c *storeCall) setKeys(sl *storeLimit, prefix string, p netip.Prefix) {
	b := append(c.buf[:0], sl.counter...)
	b = p.AppendTo(b)
	ends := [3]int{len(b)}
	c.nkey = 1
	if sl.strikes != "" {
		b = append(b, sl.strikes...)
		b = p.AppendTo(b)
		ends[1] = len(b)
		b = append(b, prefix...)
		b = append(b, "ban:"...)
		b = p.AppendTo(b)
		ends[2] = len(b)
		c.nkey = 3
	}
	c.buf = b
	// The buffer is neither changed nor reused until the call is answered
	// and recycled, and the keys are only read (written to the
	// connection) before then, so they can share its memory.
	s := unsafe.String(unsafe.SliceData(b), len(b))
	start := 0
	for i := range c.nkey {
		c.keys[i] = s[start:ends[i]]
		start = ends[i]
	}
}

// Key counts as EVALSHA takes them, boxed once.
var nkeyArgs = [4]any{"0", "1", "2", "3"}

// setCommand makes c the EVALSHA of the script on its keys with args.
func (c *storeCall) setCommand(args []any) {
	c.args = append(c.args[:0], "evalsha", storeScriptSHA, nkeyArgs[c.nkey])
	for i := range c.nkey {
		c.args = append(c.args, &c.keys[i])
	}
	c.args = append(c.args, args...)
}

// storePipe is a store's queue of calls and its writers.
type storePipe struct {
	client  *redis.Client
	timeout time.Duration
	queue   chan *storeCall
	stop    chan struct{}
	wg      sync.WaitGroup
}

func newStorePipe(client *redis.Client, timeout time.Duration) *storePipe {
	p := &storePipe{client: client, timeout: timeout,
		queue: make(chan *storeCall, storeQueueLen),
		stop:  make(chan struct{})}
	p.wg.Add(storeWriters)
	for range storeWriters {
		go p.writer()
	}
	return p
}

// close stops the writers; calls still queued are answered with an
// error.
func (p *storePipe) close() {
	close(p.stop)
	p.wg.Wait()
	for {
		select {
		case c := <-p.queue:
			c.err = errStoreClosed
			p.answer(c)
		default:
			return
		}
	}
}

// do runs c and waits for its answer, at most the store's timeout from
// now. The results are in c.res, or the error is returned. c belongs to
// the caller again, to recycle, unless do returns errStoreTimeout.
func (p *storePipe) do(c *storeCall) error {
	c.timer.Reset(p.timeout)
	select {
	case p.queue <- c:
	case <-c.timer.C:
		// Not sent: no writer saw it, it is still the caller's.
		return errStoreBusy
	}
	select {
	case <-c.done:
		c.timer.Stop()
		return c.err
	case <-c.timer.C:
		if c.state.CompareAndSwap(callPending, callAbandoned) {
			// The writer recycles it when its answer comes.
			return errStoreTimeout
		}
		// Answered meanwhile.
		<-c.done
		return c.err
	}
}

// answer hands c its result, or recycles it if its caller gave up.
func (p *storePipe) answer(c *storeCall) {
	if c.state.CompareAndSwap(callPending, callAnswered) {
		c.done <- struct{}{}
		return
	}
	putCall(c)
}

func (p *storePipe) writer() {
	defer p.wg.Done()
	batch := make([]*storeCall, 0, storeMaxBatch)
	for {
		select {
		case c := <-p.queue:
			batch = append(batch[:0], c)
		case <-p.stop:
			return
		}
		// Everything queued meanwhile goes in the same pipeline.
	fill:
		for len(batch) < storeMaxBatch {
			select {
			case c := <-p.queue:
				batch = append(batch, c)
			default:
				break fill
			}
		}
		p.exec(batch)
		clear(batch)
	}
}

// exec sends batch as one pipeline and answers each call. Calls that
// Redis refused with NOSCRIPT (a server restarted, or its script cache
// flushed) were not run: they are sent again as EVAL, which also loads
// the script for the next EVALSHAs.
func (p *storePipe) exec(batch []*storeCall) {
	ctx := context.Background()
	p.send(ctx, batch)
	retry := batch[:0:0]
	for _, c := range batch {
		if redis.HasErrorPrefix(c.cmd.Err(), "NOSCRIPT") {
			c.args[0], c.args[1] = "eval", storeScriptSrc
			retry = append(retry, c)
		}
	}
	if len(retry) > 0 {
		p.send(ctx, retry)
	}
	for _, c := range batch {
		res, err := c.cmd.Result()
		if err == nil && len(res) != len(c.res) {
			err = errors.New("store: unexpected script result")
		}
		if err == nil {
			copy(c.res[:], res)
		}
		c.err = err
		p.answer(c)
	}
}

func (p *storePipe) send(ctx context.Context, calls []*storeCall) {
	pipe := p.client.Pipeline()
	for _, c := range calls {
		c.cmd = redis.NewIntSliceCmd(ctx, c.args...)
		_ = pipe.Process(ctx, c.cmd)
	}
	// Each command holds its own error; Exec's is the first of them.
	_, _ = pipe.Exec(ctx)
}
