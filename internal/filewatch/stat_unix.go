//go:build unix

package filewatch

import (
	"os"
	"syscall"
)

// addInode records the device and inode, so that a file replaced by rename
// is seen even if size and modification time match.
func addInode(s *Stamp, fi os.FileInfo) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.ino = uint64(st.Ino)
		s.dev = uint64(st.Dev) //nolint:unconvert // Dev is int32 on some platforms
	}
}
