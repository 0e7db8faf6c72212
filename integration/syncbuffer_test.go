package integration

import (
	"bytes"
	"sync"
)

// syncBuffer collects a process's stdout and stderr while the test reads
// it. The buffer is a field, not embedded, so that io.Copy cannot reach
// bytes.Buffer's ReadFrom around the lock.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
