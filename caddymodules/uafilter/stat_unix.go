//go:build unix

package uafilter

import (
	"os"
	"syscall"
)

// addInode records the device and inode, so that a file replaced by
// rename(2) is noticed even when its size and mtime happen to match.
func addInode(s *fileStamp, fi os.FileInfo) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.ino = uint64(st.Ino)
		s.dev = uint64(st.Dev) //nolint:unconvert // Dev is int32 on some platforms
	}
}
